"""The foundation every feature stands on: extensions, accounts, scoping, audit, API frame."""
