"""One conversation's state, rebuilt from preview-dialect server events.

>>> conv = Conversation()
>>> conv.apply({"type": "conversation.item.created", "previous_item_id": None,
...             "item": {"id": "item_1", "object": "realtime.item", "type": "message",
...                      "role": "user", "status": "completed",
...                      "content": [{"type": "input_text", "text": "Hello"}]}})
>>> conv.text_of("item_1")
'Hello'

See :class:`Conversation` for what is kept and how each event is applied.
"""

from .records import ContentPart, Item, Response, cut_transcript
from .state import Conversation

__all__ = ["ContentPart", "Conversation", "Item", "Response", "cut_transcript"]
