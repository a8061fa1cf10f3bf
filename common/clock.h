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

/* Room for the text of clock_text_ms and clock_text_day. */
#define CLOCK_TEXT_MAX 32

/* "YYYY-MM-DD HH:MM:SS.mmm+00" (UTC) for Unix ms: what PostgreSQL reads as
 * a timestamptz. `buf` holds CLOCK_TEXT_MAX bytes. Returns buf. */
char *clock_text_ms(char *buf, int64_t ms);

/* "YYYY-MM-DD" of `days` since 1970-01-01. `buf` holds CLOCK_TEXT_MAX. */
char *clock_text_day(char *buf, int64_t days);

#endif
