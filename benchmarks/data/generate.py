"""Writes the data suite's input: 500,000 JSON Lines records (~48 MB) of sales."""
import json
import random
import sys

path, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
random.seed(20261129)
countries = ["FR", "DE", "US", "JP", "BR", "IN", "CN", "GB", "IT", "ES", "MX", "CA"]
with open(path, "w") as out:
    for index in range(count):
        record = {"id": index, "country": random.choice(countries), "amount": round(random.uniform(0, 1000), 2),
                  "quantity": random.randint(1, 9), "user": {"tier": random.choice(["free", "pro", "team"])},
                  "ts": 1_700_000_000 + index * 7}
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
