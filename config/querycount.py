"""Adds an X-Query-Count header with the number of SQL queries a request ran.

Only installed when QUERY_COUNT_HEADER is on (the benchmark sets it): it lets a
load driver report queries per request from outside the process."""
from django.db import connections


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        counter = {"n": 0}

        def count(execute, sql, params, many, context):
            counter["n"] += 1
            return execute(sql, params, many, context)

        with connections["default"].execute_wrapper(count):
            response = self.get_response(request)
        response["X-Query-Count"] = str(counter["n"])
        return response
