"""Public bodies: organisation names and their keys (organisations.py, with the alias table
aliases.toml), the registries' directory of bodies (directory.py), sectors, and twins (one
project listed twice). What erfa knows about who owns a project, kept apart from ranking."""
