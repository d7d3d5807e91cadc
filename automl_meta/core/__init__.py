"""What a task, a config, a metric and an exported model are; nothing of the layers above."""
