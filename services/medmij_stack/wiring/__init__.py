"""The world, the `medmij` command and the wiring of all roles."""
