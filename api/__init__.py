"""HTTP service over the actor system."""
