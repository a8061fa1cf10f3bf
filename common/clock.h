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

#endif
