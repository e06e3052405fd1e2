"""The demo receiver of `make run` (receiver.py) and its Inbox in the admin (admin.py)."""
