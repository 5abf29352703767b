"""The closed sets of label values the signals contract lists (docs/order-platform-signals.md).

Chapters 2-5 and 6-9 name the storefront clients differently (chapter 2: web/app/miniprogram;
chapter 6: web/ios/android/partner_api); each metric uses its own chapter's set, as the contract
says.
"""

from __future__ import annotations

# chapter 2
ORDER_CLIENTS = ("web", "app", "miniprogram")
ORDER_FAILURE_REASONS = ("invalid_input", "out_of_stock", "payment_failed", "system_error")
ORDER_FIELDS = ("product_name", "price", "quantity", "shipping_address", "invoice")
VALIDATED_FIELDS = ("shipping_address", "invoice")

# chapter 3
CUSTOMER_CHANNELS = ("alipay", "wechat", "card")
CHANNELS = (*CUSTOMER_CHANNELS, "backup")
PAYMENT_REASONS = (
    "wrong_password",
    "insufficient_funds",
    "unsupported_method",
    "channel_error",
    "gateway_error",
    "timeout",
)
DECLINE_REASONS = PAYMENT_REASONS[:3]
MISMATCH_CAUSES = ("price_changed", "calculation", "user_option", "channel_fee", "fx")
MISMATCH_KIND = {
    "price_changed": "system",
    "calculation": "system",
    "user_option": "user",
    "channel_fee": "channel",
    "fx": "channel",
}
MISMATCH_KINDS = ("system", "user", "channel")

# chapters 4 and 5
STOCK_WAREHOUSES = ("east", "north", "south", "west")
CANCEL_RESULTS = ("ok", "not_allowed", "not_found", "error")
REFUND_ROUTES = ("original", "balance", "bank_transfer")
#: refund SLA per route, seconds (plan 4.3: tell the user to wait within the SLA)
REFUND_SLA = {"original": 86_400.0, "balance": 3_600.0, "bank_transfer": 432_000.0}
MODIFY_RESULTS = ("ok", "not_allowed", "forbidden", "error")
MODIFY_FIELDS = ("shipping_address", "quantity", "items", "invoice")
MODIFY_SOURCES = ("customer", "operator", "partner_api")
STOCK_OPERATIONS = ("reserve", "release", "adjust")

# chapters 6 and 7
WAREHOUSES = STOCK_WAREHOUSES  # chapter 6 aligned its warehouses with chapter 4's
CARRIERS = ("sf", "jd", "zto", "yto", "ems")
REGIONS = ("east", "north", "south", "west", "central")
SHIP_CLIENTS = ("web", "ios", "android", "partner_api")
SHIPMENT_FAILURES = ("incomplete_data", "unpaid", "out_of_stock", "carrier_rejected")
MISSING_CAUSES = ("out_of_stock", "procurement_delay", "picking_error")
PACKAGING = ("standard", "fragile")

# chapter 8
RETURN_REASONS = ("none", "window_expired", "not_returnable", "reason_not_accepted", "invalid_form")

# chapter 9
CONTACTS = ("chat", "phone", "email", "ticket")
CATEGORIES = ("missing_item", "damaged", "wrong_item", "refund", "delivery", "other")
RECORD_KINDS = ("return", "refund", "complaint_call")
