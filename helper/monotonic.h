/* Time that only goes forward, for deadlines: wall-clock jumps must not stretch a wait. */
#ifndef KEYBEARER_MONOTONIC_H
#define KEYBEARER_MONOTONIC_H

long long monotonic_ms(void);

/* The same clock in microseconds, for the timings KEYBEARER_DEBUG=1 reports. */
long long monotonic_us(void);

/* Seconds since this boot, counting suspend (CLOCK_BOOTTIME): how much time has really
 * passed, whatever anyone does to the wall clock. */
long long monotonic_boot_seconds(void);

/* This boot's id (/proc/sys/kernel/random/boot_id, 36 characters) in out; "" when it
 * cannot be read. A boot clock reading means something only with its boot's id. */
void monotonic_boot_id(char out[40]);

#endif
