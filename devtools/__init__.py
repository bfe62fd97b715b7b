"""Development tools that work only from a checkout (the demo, the docs generators): not in the wheel."""
