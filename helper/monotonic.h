/* Time that only goes forward, for deadlines: wall-clock jumps must not stretch a wait. */
#ifndef KEYBEARER_MONOTONIC_H
#define KEYBEARER_MONOTONIC_H

long long monotonic_ms(void);

/* The same clock in microseconds, for the timings KEYBEARER_DEBUG=1 reports. */
long long monotonic_us(void);

#endif
