"""The closed sets of label values the signals contract lists (docs/order-platform-signals.md)."""

from __future__ import annotations

#: The channels customers choose from; ``backup`` only ever receives re-routed payments.
CUSTOMER_CHANNELS = ("alipay", "wechat", "card")
CHANNELS = (*CUSTOMER_CHANNELS, "backup")

#: Why an order creation failed (plan 2.1).
ORDER_FAILURE_REASONS = ("invalid_input", "out_of_stock", "payment", "system")
