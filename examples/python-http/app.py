"""A WASI 0.3 `wasi:http` handler in Python, built with componentize-py: `handle` is a coroutine
that returns the response while a task it spawns writes the body. It answers what `hello.wat`
answers, `hello from wagi`, and for `POST`, the request body instead, read as it arrives."""

import componentize_py_async_support
import wit_world
from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.wasi_http_types import Fields, Method_Post, Request, Response


class Handler(exports.Handler):
    async def handle(self, request: Request) -> Response:
        body, body_reader = wit_world.byte_stream()
        trailers, trailers_reader = wit_world.result_option_wasi_http_types_fields_wasi_http_types_error_code_future(
            lambda: Ok(None)
        )
        response, _ = Response.new(Fields.from_list([("content-type", b"text/plain")]), body_reader, trailers_reader)
        if isinstance(request.get_method(), Method_Post):
            componentize_py_async_support.spawn(echo(request, body, trailers))
        else:
            componentize_py_async_support.spawn(write(b"hello from wagi\n", body, trailers))
        return response


async def write(data, body, trailers):
    with body:
        await body.write_all(data)
    with trailers:
        await trailers.write(Ok(None))


async def echo(request, body, trailers):
    _, read_reader = wit_world.result_unit_wasi_http_types_error_code_future(lambda: Ok(None))
    incoming, _ = Request.consume_body(request, read_reader)
    with body:
        with incoming:
            while not incoming.writer_dropped:
                chunk = await incoming.read(65536)
                if chunk:
                    await body.write_all(chunk)
    with trailers:
        await trailers.write(Ok(None))
