"""A document/literal WSDL for `xtk:session`, as Campaign's `/nl/jsp/schemawsdl.jsp` serves, loadable by zeep."""

from __future__ import annotations

from dataclasses import dataclass

from ferry.soap.writer import SEED_NAMESPACE, SOAP_ENCODING, attr

XSD_TYPES = {"string": "s:string", "datetime": "s:dateTime", "byte": "s:byte", "boolean": "s:boolean",
             "DOMElement": "tns:Element", "DOMDocument": "tns:Element"}


@dataclass(frozen=True)
class WsdlMethod:
    """One operation: inputs after `sessiontoken`, outputs, with Campaign's element names (`strLogin`, …)."""

    name: str
    inputs: tuple[tuple[str, str], ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    # The namespace of the answer when it is not the service's (Ingest / IngestExt answer in urn:wpp:default).
    response_ns: str | None = None


SESSION_METHODS = (
    WsdlMethod("Logon", (("strLogin", "string"), ("strPassword", "string"), ("elemParameters", "DOMElement")),
               (("pstrSessionToken", "string"), ("pSessionInfo", "DOMElement"), ("pstrSecurityToken", "string"))),
    WsdlMethod("Logoff"),
    WsdlMethod("GetServerTime", (), (("ptmServerTime", "datetime"),)),
    WsdlMethod("GetOption", (("strName", "string"),), (("pstrValue", "string"), ("pbyteType", "byte"))),
    WsdlMethod("GetUserInfo", (), (("pUserInfo", "DOMElement"),)),
    WsdlMethod("Ingest", (("domDoc", "DOMDocument"),), (("pstrSUuids", "string"),), SEED_NAMESPACE),
    WsdlMethod("IngestExt", (("domDoc", "DOMDocument"),), (), SEED_NAMESPACE),
    WsdlMethod("Write", (("domDoc", "DOMDocument"),)),
    WsdlMethod("WriteCollection", (("domDoc", "DOMDocument"),)),
    WsdlMethod("GetEntityIfMoreRecent", (("pk", "string"), ("md5", "string"), ("mustExist", "boolean")),
               (("pdomDoc", "DOMDocument"),)),
)

# ExecuteQuery is an instance method: the queryDef travels as `document` (the "this" object), like the SDK sends it.
QUERYDEF_METHODS = (WsdlMethod("ExecuteQuery", (("document", "DOMDocument"),), (("pdomOutput", "DOMDocument"),)),)
REPLICATION_METHODS = (WsdlMethod("StartReplicateStagingData", (("strSchema", "string"),)),)

SUBSCRIPTION_METHODS = (
    WsdlMethod("Subscribe", (("service", "string"), ("content", "DOMElement"), ("create", "boolean"))),
    WsdlMethod("Unsubscribe", (("service", "string"), ("content", "DOMElement"))),
)
# A data schema's WSDL offers the persist methods that take its documents; ferry serves them under xtk:session.
PERSIST_METHODS = tuple(m for m in SESSION_METHODS if m.name in ("Ingest", "IngestExt", "Write", "WriteCollection"))

SERVICES = {"xtk:session": SESSION_METHODS, "xtk:queryDef": QUERYDEF_METHODS,
            "nms:replicationStrategy": REPLICATION_METHODS, "nms:subscription": SUBSCRIPTION_METHODS}


def _elements(fields: tuple[tuple[str, str], ...]) -> str:
    return "".join(f'<s:element minOccurs="0" maxOccurs="1" name="{name}" type="{XSD_TYPES[kind]}"/>'
                   for name, kind in fields)


def wsdl(schema_id: str, location: str, *, data_schema: bool = False) -> str | None:
    """The WSDL of `schema_id` with its endpoint at `location`; None when ferry serves no such SOAP service.

    A known data schema (`data_schema`) gets the persist methods that carry its documents, under `urn:xtk:session`.
    """
    methods = SERVICES.get(schema_id)
    urn = f"urn:{schema_id}"
    if methods is None:
        if not data_schema:
            return None
        methods, urn = PERSIST_METHODS, "urn:xtk:session"
    service = schema_id.replace(":", "_")
    types: list[str] = []
    seed_types: list[str] = []
    messages: list[str] = []
    ports: list[str] = []
    bindings: list[str] = []
    for method in methods:
        name = method.name
        types.append(f'<s:element name="{name}"><s:complexType><s:sequence>'
                     '<s:element minOccurs="0" maxOccurs="1" name="sessiontoken" type="s:string"/>'
                     f'{_elements(method.inputs)}</s:sequence></s:complexType></s:element>')
        answer = (f'<s:element name="{name}Response"><s:complexType><s:sequence>'
                  f'{_elements(method.outputs)}</s:sequence></s:complexType></s:element>')
        (seed_types if method.response_ns == SEED_NAMESPACE else types).append(answer)
        prefix = "wpp" if method.response_ns == SEED_NAMESPACE else "tns"
        messages.append(f'<wsdl:message name="{name}In"><wsdl:part name="parameters" element="tns:{name}"/>'
                        f'</wsdl:message><wsdl:message name="{name}Out">'
                        f'<wsdl:part name="parameters" element="{prefix}:{name}Response"/></wsdl:message>')
        ports.append(f'<wsdl:operation name="{name}"><wsdl:input message="tns:{name}In"/>'
                     f'<wsdl:output message="tns:{name}Out"/></wsdl:operation>')
        bindings.append(f'<wsdl:operation name="{name}"><soap:operation soapAction="{urn[4:]}#{name}" '
                        f'style="document"/><wsdl:input><soap:body encodingStyle="{SOAP_ENCODING}" use="literal"/>'
                        f'</wsdl:input><wsdl:output><soap:body encodingStyle="{SOAP_ENCODING}" use="literal"/>'
                        '</wsdl:output></wsdl:operation>')
    nl = "\n"
    seed_schema = (f'<s:schema elementFormDefault="qualified" targetNamespace="{SEED_NAMESPACE}">\n'
                   f'{nl.join(seed_types)}\n</s:schema>\n') if seed_types else ""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns="{urn}" xmlns:s="http://www.w3.org/2001/XMLSchema" \
xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:tns="{urn}" xmlns:wpp="{SEED_NAMESPACE}" \
xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" targetNamespace="{urn}">
<wsdl:types>
<s:schema elementFormDefault="qualified" targetNamespace="{urn}">
<s:complexType name="Element"><s:sequence><s:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/>\
</s:sequence><s:anyAttribute processContents="lax"/></s:complexType>
{nl.join(types)}
</s:schema>
{seed_schema}</wsdl:types>
{nl.join(messages)}
<wsdl:portType name="{service}MethodsSoap">
{nl.join(ports)}
</wsdl:portType>
<wsdl:binding name="{service}MethodsSoap" type="tns:{service}MethodsSoap">
<soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
{nl.join(bindings)}
</wsdl:binding>
<wsdl:service name="XtkSession">
<wsdl:port binding="tns:{service}MethodsSoap" name="{service}MethodsSoap">
<soap:address location="{attr(location)}"/>
</wsdl:port>
</wsdl:service>
</wsdl:definitions>
"""
