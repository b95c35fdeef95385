# The bounds of the notify options, the agent's own (src/config/notify.rs:
# MAX_THRESHOLD, MAX_REPEAT_MINUTES, MAX_WINDOW_SECONDS): a value the module
# lets through is one every unit accepts.
{
  maxThreshold = 100;
  maxRepeatMinutes = 525600;
  maxWindowSeconds = 3600;
}
