"""The shared PATCH engine: RFC 7386, RFC 6902 and TMF630 Part 5 json-patch-query, plus protected members."""
import copy

import pytest

from tmf_oss.tmf.patch import (
    JSON_PATCH,
    JSON_PATCH_QUERY,
    MERGE_PATCH,
    ImmutableFieldError,
    PatchError,
    apply_patch,
    media_kind,
    merge_patch,
)


def fails(document, body, kind, status=400, **protected) -> PatchError:
    with pytest.raises(PatchError) as caught:
        apply_patch(document, body, kind, **protected)
    assert caught.value.status == status
    assert str(caught.value) == caught.value.message
    return caught.value


# --- media types ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type, kind", [
    (None, MERGE_PATCH),
    ("", MERGE_PATCH),
    ("application/json", MERGE_PATCH),
    ("application/json;charset=utf-8", MERGE_PATCH),
    ("application/json; charset=UTF-8", MERGE_PATCH),
    ("application/merge-patch+json", MERGE_PATCH),
    ("Application/Merge-Patch+JSON", MERGE_PATCH),
    ("application/json-patch+json", JSON_PATCH),
    ("application/json-patch+json;charset=utf-8", JSON_PATCH),
    ("application/json-patch-query+json", JSON_PATCH_QUERY),
    ("APPLICATION/JSON-PATCH-QUERY+JSON ; charset=utf-8", JSON_PATCH_QUERY),
])
def test_media_kind_maps_content_types(content_type, kind):
    assert media_kind(content_type) == kind


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/json-patch",
                                          "multipart/form-data; boundary=x", "*/*"])
def test_media_kind_refuses_other_types_with_415(content_type):
    with pytest.raises(PatchError) as caught:
        media_kind(content_type)
    assert caught.value.status == 415
    assert content_type.split(";")[0] in caught.value.message
    assert MERGE_PATCH in caught.value.message  # tells the client what would work


def test_apply_patch_accepts_a_raw_content_type_as_kind():
    assert apply_patch({"a": 1}, {"a": 2}, "application/json;charset=utf-8") == {"a": 2}
    fails({"a": 1}, {"a": 2}, "text/plain", status=415)


# --- RFC 7386 appendix A ---------------------------------------------------------------------------------------------

RFC7386_VECTORS = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target, patch, expected", RFC7386_VECTORS)
def test_merge_patch_rfc7386_appendix_a(target, patch, expected):
    before = copy.deepcopy(target)
    assert merge_patch(target, patch) == expected
    assert target == before


@pytest.mark.parametrize("target, patch, expected",
                         [v for v in RFC7386_VECTORS if isinstance(v[0], dict) and isinstance(v[1], dict)])
def test_apply_merge_patch_rfc7386_object_vectors(target, patch, expected):
    assert apply_patch(target, patch, MERGE_PATCH) == expected


@pytest.mark.parametrize("body", [["c"], None, "bar", 3])
def test_merge_patch_body_must_be_an_object(body):
    error = fails({"a": "b"}, body, MERGE_PATCH)
    assert "must be a JSON object" in error.message


def test_merge_patch_array_body_hints_at_json_patch():
    error = fails({"a": "b"}, [{"op": "remove", "path": "/a"}], "application/json")
    assert JSON_PATCH in error.message


def test_merge_patch_replaces_arrays_whole():
    document = {"note": [{"id": "1"}, {"id": "2"}], "name": "x"}
    assert apply_patch(document, {"note": [{"id": "3"}]}, MERGE_PATCH) == {"note": [{"id": "3"}], "name": "x"}


# --- RFC 6902 appendix A ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("document, patch, expected", [
    pytest.param({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
                 {"baz": "qux", "foo": "bar"}, id="A.1 add object member"),
    pytest.param({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
                 {"foo": ["bar", "qux", "baz"]}, id="A.2 add array element"),
    pytest.param({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}],
                 {"foo": "bar"}, id="A.3 remove object member"),
    pytest.param({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}],
                 {"foo": ["bar", "baz"]}, id="A.4 remove array element"),
    pytest.param({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
                 {"baz": "boo", "foo": "bar"}, id="A.5 replace"),
    pytest.param({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
                 [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
                 {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}, id="A.6 move value"),
    pytest.param({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
                 {"foo": ["all", "cows", "eat", "grass"]}, id="A.7 move array element"),
    pytest.param({"baz": "qux", "foo": ["a", 2, "c"]},
                 [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
                 {"baz": "qux", "foo": ["a", 2, "c"]}, id="A.8 test success"),
    pytest.param({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
                 {"foo": "bar", "child": {"grandchild": {}}}, id="A.10 add nested object"),
    pytest.param({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
                 {"foo": "bar", "baz": "qux"}, id="A.11 ignore unrecognized members"),
    pytest.param({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}],
                 {"/": 9, "~1": 10}, id="A.14 escape ordering"),
    pytest.param({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
                 {"foo": ["bar", ["abc", "def"]]}, id="A.16 add array value"),
    pytest.param({"foo": {"bar": 1}}, [{"op": "copy", "from": "/foo", "path": "/baz"}],
                 {"foo": {"bar": 1}, "baz": {"bar": 1}}, id="copy"),
])
@pytest.mark.parametrize("kind", [JSON_PATCH, JSON_PATCH_QUERY])  # plain paths mean the same in both
def test_json_patch_rfc6902_examples(document, patch, expected, kind):
    assert apply_patch(document, patch, kind) == expected


def test_json_patch_failed_test_is_409():
    error = fails({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], JSON_PATCH, status=409)  # A.9
    assert error.message == "json-patch operation 0: test failed: the value at '/baz' differs from the expected value"


def test_json_patch_test_compares_strings_and_numbers_strictly():  # A.15
    fails({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], JSON_PATCH, status=409)


def test_json_patch_test_of_missing_path_is_409():
    error = fails({"a": 1}, [{"op": "test", "path": "/b", "value": 1}], JSON_PATCH, status=409)
    assert "'/b' does not exist" in error.message


def test_json_patch_add_to_nonexistent_target():  # A.12
    error = fails({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], JSON_PATCH)
    assert error.message == ("json-patch operation 0: path '/baz' does not exist, "
                             "so nothing can be added at '/baz/bat'")


def test_json_patch_remove_nonexistent_path_names_the_operation():
    body = [{"op": "add", "path": "/a", "value": 1}, {"op": "replace", "path": "/a", "value": 2},
            {"op": "remove", "path": "/foo/3"}]
    error = fails({"foo": [1, 2]}, body, JSON_PATCH)
    assert error.message == "json-patch operation 2: path '/foo/3' does not exist"


def test_json_patch_move_from_nonexistent_path():
    error = fails({"a": 1}, [{"op": "move", "from": "/b", "path": "/c"}], JSON_PATCH)
    assert error.message == "json-patch operation 0: from '/b' does not exist"


def test_json_patch_insert_outside_list():
    error = fails({"a": [1]}, [{"op": "add", "path": "/a/5", "value": 2}], JSON_PATCH)
    assert error.message.startswith("json-patch operation 0: cannot add at '/a/5'")


@pytest.mark.parametrize("body, expected", [
    ({"op": "add", "path": "/a", "value": 1}, "a json-patch body must be a JSON array of operations"),
    (["add"], "json-patch operation 0: must be a JSON object with 'op' and 'path'"),
    ([{"op": "frobnicate", "path": "/a"}], "json-patch operation 0: 'op' must be one of add, remove, replace, "
                                           "move, copy, test"),
    ([{"path": "/a"}], "json-patch operation 0: 'op' must be one of add, remove, replace, move, copy, test"),
    ([{"op": "remove"}], "json-patch operation 0: 'remove' requires a string 'path'"),
    ([{"op": "test", "path": "/a", "value": 1}, {"op": "add", "path": "/b"}],
     "json-patch operation 1: 'add' requires a 'value'"),
    ([{"op": "copy", "path": "/b"}], "json-patch operation 0: 'copy' requires a string 'from'"),
    ([{"op": "replace", "path": "state", "value": "x"}],
     "json-patch operation 0: path 'state' is not a JSON Pointer (it must be empty or start with '/')"),
    ([{"op": "remove", "path": "/a~2"}], "json-patch operation 0: path '/a~2' has an invalid '~' escape "
                                         "(only ~0 and ~1 exist)"),
])
def test_json_patch_malformed_bodies(body, expected):
    assert fails({"a": 1}, body, JSON_PATCH).message == expected


def test_json_patch_does_not_read_query_paths():
    fails({"note": [{"id": "3"}]}, [{"op": "remove", "path": "/note?id=3"}], JSON_PATCH)


def test_json_patch_is_all_or_nothing():
    document = {"a": 1, "list": [1, 2]}
    fails(document, [{"op": "remove", "path": "/a"}, {"op": "remove", "path": "/nope"}], JSON_PATCH)
    assert document == {"a": 1, "list": [1, 2]}


def test_patched_resource_must_stay_an_object():
    error = fails({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], JSON_PATCH)
    assert error.message == "the patched resource must remain a JSON object"


# --- json-patch-query (TMF630 Part 5) --------------------------------------------------------------------------------

def resource():
    return {
        "id": "ca239a70",
        "href": "/resourceInventoryManagement/v5/resource/ca239a70",
        "@type": "LogicalResource",
        "note": [
            {"id": "1", "author": "Ann", "date": "2025-05-12T00:00:00.000Z", "text": "Delivered", "@type": "Note"},
            {"id": "2", "author": "Bob", "date": "2025-05-13T00:00:00.000Z", "text": "Racked", "@type": "Note"},
            {"id": "3", "author": "Ann", "date": "2025-05-14T00:00:00.000Z", "text": "Cabled", "@type": "Note"},
            {"id": "4", "author": "Bob", "date": "2025-05-14T00:00:00.000Z", "text": "Powered", "@type": "Note"},
        ],
        "resourceCharacteristic": [
            {"name": "vlan", "valueType": "string", "value": "100"},
            {"name": "vlan", "valueType": "integer", "value": 100},
            {"name": "mtu", "valueType": "integer", "value": 1500},
            {"name": "tags", "valueType": "array", "value": ["edge"]},
            {"name": "order", "valueType": "object", "value": {"ref": "ORD1", "sla": "Standard"}},
        ],
        "parentAlarm": [{"@type": "AlarmRef", "id": "556698533215846321", "name": "Mains failure"},
                        {"@type": "AlarmRef", "id": "7", "name": "Mains failure"}],
        "relatedParty": [
            {"role": "user", "partyOrPartyRole": {"id": "p1", "name": "Gustave Flaubert"}},
            {"role": "user", "partyOrPartyRole": {"id": "p2", "name": "George Sand"}},
        ],
    }


def patched(body, **protected):
    return apply_patch(resource(), body, JSON_PATCH_QUERY, **protected)


def test_official_tmf639_example_replaces_the_note_selected_by_date():
    body = [{"op": "replace", "path": ".note[?(@.date=='2025-05-13T00:00:00.000Z')]",
             "value": {"text": "Port 1 configured"}}]
    notes = patched(body)["note"]
    assert notes[1] == {"text": "Port 1 configured"}  # RFC 6902 replace: the element is replaced, not merged
    assert notes[0] == resource()["note"][0] and notes[2:] == resource()["note"][2:]


def test_query_remove_selected_element():
    assert [n["id"] for n in patched([{"op": "remove", "path": "/note?id=3"}])["note"]] == ["1", "2", "4"]


def test_query_replace_member_of_selected_elements():
    result = patched([{"op": "replace", "path": "/resourceCharacteristic/value?name=mtu", "value": 9000}])
    assert result["resourceCharacteristic"][2]["value"] == 9000
    assert [c["value"] for c in result["resourceCharacteristic"][:2]] == ["100", 100]


def test_query_conditions_are_combined_with_and():
    result = patched([{"op": "replace", "path": "/note/text?author=Bob&date=2025-05-14T00:00:00.000Z",
                       "value": "Powered on"}])
    assert [n["text"] for n in result["note"]] == ["Delivered", "Racked", "Cabled", "Powered on"]


def test_query_replace_applies_to_every_match():
    result = patched([{"op": "replace", "path": "/resourceCharacteristic/value?name=vlan", "value": "200"}])
    assert [c["value"] for c in result["resourceCharacteristic"][:3]] == ["200", "200", 1500]


def test_query_remove_of_several_elements_keeps_indices_valid():
    result = patched([{"op": "remove", "path": "/note?author=Ann"}])
    assert [n["id"] for n in result["note"]] == ["2", "4"]


def test_jsonpath_filter_with_member_target():
    result = patched([{"op": "replace", "path": "$.note[?(@.id=='3')].text", "value": "Re-cabled"}])
    assert result["note"][2]["text"] == "Re-cabled"


def test_jsonpath_filter_with_two_terms():
    body = [{"op": "replace", "path": "$.resourceCharacteristic[?(@.name=='vlan' && @.valueType=='string')].value",
             "value": "300"}]
    assert [c["value"] for c in patched(body)["resourceCharacteristic"][:2]] == ["300", 100]


def test_jsonpath_filter_on_numbers_and_without_dot():
    document = {"attachment": [{"size": 300, "name": "a"}, {"size": 301, "name": "b"}]}
    result = apply_patch(document, [{"op": "remove", "path": "attachment[?(@size==300)]"}], JSON_PATCH_QUERY)
    assert result == {"attachment": [{"size": 301, "name": "b"}]}


def test_official_tmf642_example_matches_string_id_written_as_number():
    result = patched([{"op": "replace", "path": "/parentAlarm/name?id=556698533215846321", "value": "Root cause"}])
    assert result["parentAlarm"][0] == {"@type": "AlarmRef", "id": "556698533215846321", "name": "Root cause"}
    assert result["parentAlarm"][1]["name"] == "Mains failure"


def test_official_tmf638_example_key_prefixed_with_array_name():
    result = patched([{"op": "replace", "path": "/note/author?note.id=2", "value": "Mr. N. Bene"}])
    assert [n["author"] for n in result["note"]] == ["Ann", "Mr. N. Bene", "Ann", "Bob"]


def test_official_tmf634_example_nested_key_and_quoted_value():
    body = [{"op": "replace", "path": "/relatedParty/role?partyOrPartyRole.name='Gustave Flaubert'",
             "value": "Owner"}]
    assert [p["role"] for p in patched(body)["relatedParty"]] == ["Owner", "user"]


def test_query_nested_target_inside_selected_element():
    body = [{"op": "replace", "path": "/resourceCharacteristic/value/sla?resourceCharacteristic.name=order",
             "value": "Priority"}]
    assert patched(body)["resourceCharacteristic"][4]["value"] == {"ref": "ORD1", "sla": "Priority"}


def test_query_condition_on_nested_arrays_any_element_matches():
    document = {"orderItem": [
        {"id": "1", "quantity": 1, "product": {"relatedParty": [{"name": "Mary", "role": "customer"}]}},
        {"id": "2", "quantity": 1, "product": {"relatedParty": [{"name": "John", "role": "customer"}]}},
    ]}
    body = [{"op": "replace", "value": 25,
             "path": "/orderItem/quantity?orderItem.product.relatedParty.role=customer"
                     "&orderItem.product.relatedParty.name=Mary"}]
    result = apply_patch(document, body, JSON_PATCH_QUERY)
    assert [item["quantity"] for item in result["orderItem"]] == [25, 1]


def test_query_selects_at_two_array_levels():
    document = {"orderItem": [
        {"id": "1", "service": {"serviceCharacteristic": [{"name": "vlan", "value": 1}, {"name": "mtu", "value": 2}]}},
        {"id": "2", "service": {"serviceCharacteristic": [{"name": "vlan", "value": 3}]}},
    ]}
    expected = copy.deepcopy(document)
    expected["orderItem"][0]["service"]["serviceCharacteristic"][0]["value"] = 10
    pointer_style = "/orderItem/service/serviceCharacteristic/value?orderItem.id=1&name=vlan"
    jsonpath_style = "$.orderItem[?(@.id=='1')].service.serviceCharacteristic[?(@.name=='vlan')].value"
    for path in (pointer_style, jsonpath_style):
        assert apply_patch(document, [{"op": "replace", "path": path, "value": 10}], JSON_PATCH_QUERY) == expected


def test_query_add_member_to_selected_element():
    result = patched([{"op": "add", "path": "/note/status?note.author=Bob", "value": "checked"}])
    assert [n.get("status") for n in result["note"]] == [None, "checked", None, "checked"]


def test_query_add_to_selected_array_appends():
    result = patched([{"op": "add", "path": "/resourceCharacteristic/value?name=tags", "value": "core"}])
    assert result["resourceCharacteristic"][3]["value"] == ["edge", "core"]


def test_query_add_object_to_selected_object_merges():
    result = patched([{"op": "add", "path": "/note?id=1", "value": {"author": "Carl", "lang": "en"}}])
    assert result["note"][0] == {"id": "1", "author": "Carl", "date": "2025-05-12T00:00:00.000Z",
                                 "text": "Delivered", "@type": "Note", "lang": "en"}
    assert len(result["note"]) == 4


def test_query_plain_paths_follow_rfc6902():
    result = patched([{"op": "add", "path": "/note/-", "value": {"id": "5"}},
                      {"op": "replace", "path": "$.note[0].text", "value": "Unpacked"}])
    assert result["note"][0]["text"] == "Unpacked" and result["note"][4] == {"id": "5"}


def test_query_operations_see_earlier_operations():
    body = [{"op": "remove", "path": "/note?id=1"}, {"op": "replace", "path": "/note/text?id=4", "value": "On"}]
    result = patched(body)
    assert [(n["id"], n["text"]) for n in result["note"]] == [("2", "Racked"), ("3", "Cabled"), ("4", "On")]


def test_query_dates_compare_as_instants():
    result = patched([{"op": "remove", "path": "/note?date=2025-05-12T02:00:00%2B02:00"}])
    assert [n["id"] for n in result["note"]] == ["2", "3", "4"]


def test_query_test_operation_checks_every_selected_element():
    patched([{"op": "test", "path": "/note/@type?author=Ann", "value": "Note"}])
    error = fails(resource(), [{"op": "test", "path": "/note/text?author=Ann", "value": "Cabled"}],
                  JSON_PATCH_QUERY, status=409)
    assert error.message == ("json-patch-query operation 0: test failed: "
                             "the value at '/note/0/text' differs from the expected value")


def test_query_move_from_selected_element():
    result = patched([{"op": "move", "from": "/note?id=2", "path": "/archivedNote"}])
    assert result["archivedNote"]["text"] == "Racked" and len(result["note"]) == 3


def test_query_no_match_is_400():
    error = fails(resource(), [{"op": "replace", "path": "/note/text?id=99", "value": "x"}], JSON_PATCH_QUERY)
    assert error.message == "json-patch-query operation 0: no element of 'note' matches id=99"
    error = fails(resource(), [{"op": "remove", "path": "$.note[?(@.author=='Zoe')]"}], JSON_PATCH_QUERY)
    assert error.message == "json-patch-query operation 0: no element of 'note' matches @.author=='Zoe'"


def test_query_test_with_no_match_is_409():
    fails(resource(), [{"op": "test", "path": "/note/text?id=99", "value": "x"}], JSON_PATCH_QUERY, status=409)


def test_query_replace_of_member_missing_in_match():
    error = fails(resource(), [{"op": "replace", "path": "/note/author/x?id=2", "value": "x"}], JSON_PATCH_QUERY)
    assert error.message == "json-patch-query operation 0: path '/note/1/author/x' does not exist"
    error = fails(resource(), [{"op": "replace", "path": "/note/lang?id=2", "value": "x"}], JSON_PATCH_QUERY)
    assert error.message == "json-patch-query operation 0: path '/note/1/lang' does not exist"


@pytest.mark.parametrize("path, expected", [
    ("/note?id", "query condition 'id' in path '/note?id' must look like member=value"),
    ("$.note[?(@.id=='1' || @.id=='2')]", "unsupported filter"),
    ("$.note[?(@.date>'2025')]", "unsupported filter"),
    ("scheduleDefinition[?(@.id=''1'')].recurringFrequency=weekly", "unsupported filter"),
    ("$.note[?(@.id=='1')]=x", "cannot read path"),
])
def test_query_unsupported_syntax_is_400(path, expected):
    error = fails(resource(), [{"op": "remove", "path": path}], JSON_PATCH_QUERY)
    assert error.message.startswith("json-patch-query operation 0: ") and expected in error.message


def test_query_move_to_several_locations_is_refused():
    error = fails(resource(), [{"op": "move", "from": "/note/0", "path": "/note/text?author=Bob"}], JSON_PATCH_QUERY)
    assert "selects 2 locations; a move needs exactly one" in error.message


# --- immutable and server-owned members ------------------------------------------------------------------------------

PROTECTED = {"immutable": frozenset({"id", "href"}), "server_owned": frozenset({"lastUpdate"})}


def document():
    return {"id": "42", "href": "/resource/42", "lastUpdate": "2026-01-01T00:00:00Z", "name": "router",
            "note": [{"id": "1", "text": "a"}]}


def test_merge_patch_may_echo_protected_members():
    body = {"id": "42", "href": "/resource/42", "lastUpdate": "2026-01-01T00:00:00Z", "name": "switch"}
    assert apply_patch(document(), body, MERGE_PATCH, **PROTECTED)["name"] == "switch"


@pytest.mark.parametrize("body, field", [({"id": "43"}, "id"), ({"href": None}, "href"), ({"id": 42}, "id")])
def test_merge_patch_refuses_changing_immutable_members(body, field):
    error = fails(document(), body, MERGE_PATCH, **PROTECTED)
    assert isinstance(error, ImmutableFieldError) and error.field == field
    assert error.message == f"member '{field}' cannot be changed"


@pytest.mark.parametrize("body", [{"lastUpdate": "2027-01-01T00:00:00Z"}, {"lastUpdate": None}])
def test_merge_patch_refuses_changing_server_owned_members(body):
    error = fails(document(), body, MERGE_PATCH, **PROTECTED)
    assert isinstance(error, ImmutableFieldError) and error.field == "lastUpdate"
    assert error.message == "member 'lastUpdate' is maintained by the server and cannot be changed"


def test_merge_patch_refuses_setting_an_absent_server_owned_member():
    error = fails({"name": "x"}, {"lastUpdate": "2027-01-01T00:00:00Z"}, MERGE_PATCH, **PROTECTED)
    assert error.field == "lastUpdate"


@pytest.mark.parametrize("kind", [JSON_PATCH, JSON_PATCH_QUERY])
@pytest.mark.parametrize("operation, field", [
    ({"op": "replace", "path": "/id", "value": "43"}, "id"),
    ({"op": "remove", "path": "/href"}, "href"),
    ({"op": "add", "path": "/id", "value": "42"}, "id"),  # only a replace with the same value is an echo
    ({"op": "move", "from": "/id", "path": "/oldId"}, "id"),
    ({"op": "copy", "from": "/name", "path": "/lastUpdate"}, "lastUpdate"),
    ({"op": "replace", "path": "", "value": {**document(), "id": "43"}}, "id"),
])
def test_json_patch_refuses_changing_protected_members(kind, operation, field):
    error = fails(document(), [{"op": "test", "path": "/name", "value": "router"}, operation], kind, **PROTECTED)
    assert isinstance(error, ImmutableFieldError) and error.field == field
    label = "json-patch" if kind == JSON_PATCH else "json-patch-query"
    assert error.message.startswith(f"{label} operation 1: member '{field}' ")


@pytest.mark.parametrize("kind", [JSON_PATCH, JSON_PATCH_QUERY])
def test_json_patch_allows_test_copy_from_and_identical_replace_of_protected_members(kind):
    body = [{"op": "test", "path": "/id", "value": "42"},
            {"op": "replace", "path": "/id", "value": "42"},
            {"op": "copy", "from": "/href", "path": "/link"},
            {"op": "replace", "path": "", "value": {**document(), "name": "switch"}}]
    result = apply_patch(document(), body, kind, **PROTECTED)
    assert result == {**document(), "name": "switch"}


def test_server_owned_message_in_json_patch():
    error = fails(document(), [{"op": "remove", "path": "/lastUpdate"}], JSON_PATCH, **PROTECTED)
    assert error.message == ("json-patch operation 0: member 'lastUpdate' is maintained by the server "
                             "and cannot be changed")


def test_query_operation_inside_a_protected_member_is_refused():
    error = fails(document(), [{"op": "replace", "path": "/note/text?id=1", "value": "b"}], JSON_PATCH_QUERY,
                  immutable=frozenset({"note"}))
    assert error.field == "note"


# --- the input is never modified -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, body", [
    (MERGE_PATCH, {"name": "switch", "note": None, "extra": {"a": 1}}),
    (JSON_PATCH, [{"op": "replace", "path": "/note/0/text", "value": "b"}, {"op": "remove", "path": "/name"},
                  {"op": "add", "path": "/note/-", "value": {"id": "2"}}]),
    (JSON_PATCH_QUERY, [{"op": "replace", "path": "/note/text?id=1", "value": "b"},
                        {"op": "add", "path": "/note?id=1", "value": {"author": "x"}}]),
])
def test_input_document_is_not_modified(kind, body):
    original = document()
    result = apply_patch(original, body, kind)
    assert original == document()
    result["note" if "note" in result else "name"] = "mutated"
    for value in result.values():
        if isinstance(value, (dict, list)):
            value.clear()
    assert original == document()


def test_empty_patches_return_an_equal_copy():
    for kind, body in ((MERGE_PATCH, {}), (JSON_PATCH, []), (JSON_PATCH_QUERY, [])):
        original = document()
        result = apply_patch(original, body, kind)
        assert result == original and result is not original and result["note"] is not original["note"]


def test_errors_are_value_errors_with_status_and_message():
    error = PatchError("bad", 409)
    assert isinstance(error, ValueError) and error.status == 409 and error.message == "bad" and str(error) == "bad"
    immutable = ImmutableFieldError("id", "member 'id' cannot be changed")
    assert isinstance(immutable, PatchError) and immutable.status == 400 and immutable.field == "id"


def test_query_numbers_compare_exactly_beyond_float_precision():
    document = {"item": [{"n": 9007199254740993}, {"n": 9007199254740992}]}
    result = apply_patch(document, [{"op": "remove", "path": "/item?n=9007199254740993"}], JSON_PATCH_QUERY)
    assert result == {"item": [{"n": 9007199254740992}]}


@pytest.mark.parametrize("kind, body", [
    (MERGE_PATCH, {"extra": {"a": [1]}}),
    (JSON_PATCH, [{"op": "add", "path": "/extra", "value": {"a": [1]}}]),
    (JSON_PATCH_QUERY, [{"op": "add", "path": "/extra", "value": {"a": [1]}}]),
])
def test_result_does_not_share_values_with_the_body(kind, body):
    sent = copy.deepcopy(body)
    apply_patch(document(), body, kind)["extra"]["a"].append(2)
    assert body == sent
