"""What people read, built beside the champion's path from its output topics."""
