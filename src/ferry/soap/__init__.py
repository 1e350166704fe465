"""SOAP as Campaign speaks it: envelope parsing, responses and faults, served schemas and WSDL."""

from ferry.soap.envelope import SoapRequest, cookie_value, parse_request
from ferry.soap.writer import CONTENT_TYPE, fault, response

__all__ = ["CONTENT_TYPE", "SoapRequest", "cookie_value", "fault", "parse_request", "response"]
