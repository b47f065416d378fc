"""Writes the analytics suite's input: 1,000,000 events as JSON Lines over three days."""
import json
import random
import sys

path, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
random.seed(1129)
types = ["page_view", "page_view", "page_view", "click", "click", "signup", "purchase", "scroll"]
start = 1_795_946_400
with open(path, "w") as out:
    for index in range(count):
        event = {"eventType": random.choice(types), "timestamp": start + index * 259_200 // count,
                 "durationMs": random.randint(1, 5000), "sessionId": f"s{random.randint(1, 60_000)}",
                 "userId": f"u{random.randint(1, 20_000)}"}
        out.write(json.dumps(event, separators=(",", ":")) + "\n")
