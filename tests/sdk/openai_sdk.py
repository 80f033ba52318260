"""Drives Hearth's OpenAI-compatible endpoint with the official OpenAI Python SDK.

Run by tests/integration/openai_http.rs against a gateway whose provider is the echoing fake.
Environment: HEARTH_BASE_URL (http://127.0.0.1:<port>/v1), HEARTH_TOKEN.
"""

import os

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["HEARTH_BASE_URL"], api_key=os.environ["HEARTH_TOKEN"], max_retries=0)

ids = [m.id for m in client.models.list().data]
assert "hearth" in ids and "hearth:main" in ids, ids

reply = client.chat.completions.create(
    model="hearth", messages=[{"role": "user", "content": "hello sdk"}]
)
assert reply.object == "chat.completion", reply
assert reply.choices[0].message.role == "assistant", reply
assert reply.choices[0].message.content == "echo: hello sdk", reply
assert reply.choices[0].finish_reason == "stop", reply
assert reply.usage.total_tokens > 0, reply

text = ""
usage = None
stream = client.chat.completions.create(
    model="hearth",
    user="sdk-user",
    messages=[{"role": "user", "content": "streamed"}],
    stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
    if chunk.usage:
        usage = chunk.usage
assert text == "echo: streamed", text
assert usage is not None and usage.completion_tokens > 0, usage

try:
    client.chat.completions.create(model="no-such-agent", messages=[{"role": "user", "content": "x"}])
    raise AssertionError("expected NotFoundError")
except openai.NotFoundError as e:
    assert "does not exist" in str(e), e

bad = OpenAI(base_url=os.environ["HEARTH_BASE_URL"], api_key="wrong-token", max_retries=0)
try:
    bad.chat.completions.create(model="hearth", messages=[{"role": "user", "content": "x"}])
    raise AssertionError("expected AuthenticationError")
except openai.AuthenticationError:
    pass

print("openai sdk: ok")
