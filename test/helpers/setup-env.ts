// Tests run quietly and with cheap password hashing unless a test says otherwise.
process.env.LOG_LEVEL ??= "warn";
process.env.ARGON2_MEMORY_KIB ??= "1024";
process.env.ARGON2_TIME_COST ??= "1";
process.env.METRICS ??= "true";
// A test node that stops with a request still in flight waits this long, not the production grace period.
process.env.SHUTDOWN_TIMEOUT_MS ??= "2000";
