"""A seeded sandbox of every source system: the world generator and the simulated vendors."""
