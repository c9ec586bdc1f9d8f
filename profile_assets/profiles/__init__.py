"""Golden profiles: survivorship, history (SCD2), audit and erasure."""
