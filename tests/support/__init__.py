"""Test helpers shared across test packages (real local servers, test CAs)."""
