"""One construct per section of the seed architecture (../shared/mission/architecture-seed.md)."""
