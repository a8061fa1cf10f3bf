/* clock: wall and monotonic time in the units the wire format uses. */
#ifndef SHUTTLE_CLOCK_H
#define SHUTTLE_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch, UTC, from the system clock. */
int64_t clock_wall_ms(void);

/* Milliseconds from CLOCK_MONOTONIC: only differences mean anything. */
int64_t clock_mono_ms(void);

/* Microseconds from CLOCK_MONOTONIC, for timing things that take less than
 * a millisecond (a small commit does). */
int64_t clock_mono_us(void);

/*
 * Exponential back-off for reconnects: 0.5 s, 1 s, 2 s ... up to max_ms.
 * *backoff_ms holds the state (0 after a success). Returns the next wait.
 */
int64_t clock_backoff_next(int64_t *backoff_ms, int64_t max_ms);

/* Room for the text of clock_text_ms and clock_text_day, for any int64:
 * "-292275055-05-16 16:47:04.192+00" is 32 characters and a NUL. */
#define CLOCK_TEXT_MAX 40

/* "YYYY-MM-DD HH:MM:SS.mmm+00" (UTC) for Unix ms: what PostgreSQL reads as
 * a timestamptz for years 1..9999 (the rule set keeps stored times there).
 * Any int64 is safe: years beyond four digits get more digits (and a
 * minus sign before year 0), never more than CLOCK_TEXT_MAX - 1
 * characters. `buf` holds CLOCK_TEXT_MAX bytes. Returns buf. */
char *clock_text_ms(char *buf, int64_t ms);

/* "YYYY-MM-DD" of `days` since 1970-01-01. `buf` holds CLOCK_TEXT_MAX. */
char *clock_text_day(char *buf, int64_t days);

#endif
