"""Services, Subscribe / Unsubscribe requests staged in `nms:subscription`, their applier, history and links."""

SCHEMA_ID = "nms:subscription"
HISTORY_ID = "nms:subHisto"
SERVICE_ID = "nms:service"
RECIPIENT_ID = "nms:recipient"
ORIGINS = ("api", "soap", "link", "import", "admin", "js")
