"""DVA Authorization Server."""
