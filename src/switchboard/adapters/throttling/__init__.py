"""Failed-attempt counters (the ``AttemptThrottle`` port) on the ``limits`` library."""

from switchboard.adapters.throttling.limits_throttle import LimitsAttemptThrottle

__all__ = ["LimitsAttemptThrottle"]
