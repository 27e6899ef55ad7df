// `lifeline chaos`'s HTTP API as Toxiproxy clients see it: status codes, JSON shapes and key order, error
// bodies, and the command line's answers to bad flags. Runs the real binary.
#include "support/chaos_harness.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cstdio>
#include <fstream>

namespace {

// EADDRINUSE as Toxiproxy words it: Go's lower-case strerror on Linux, Microsoft's text on Windows.
#ifdef _WIN32
const std::string address_in_use = "Address already in use";
#else
const std::string address_in_use = "address already in use";
#endif

using namespace lifeline::test;
namespace json = boost::json;

class chaos_api : public ::testing::Test {
 protected:
  chaos_api() : chaos_("--seed 7") {}
  void SetUp() override { ASSERT_TRUE(chaos_.ready()); }
  http_reply call(const std::string& method, const std::string& target, const std::string& body = {},
                  const std::string& headers = {}) {
    return http(chaos_.api(), method, target, body, headers);
  }
  std::string create(const std::string& name, const std::string& listen = "127.0.0.1:0") {
    const auto reply = call("POST", "/proxies",
                            R"({"name":")" + name + R"(","listen":")" + listen + R"(","upstream":")" +
                                upstream_.address() + R"("})");
    EXPECT_EQ(reply.status, 201) << reply.body;
    return reply.status == 201 ? std::string(json::parse(reply.body).at("listen").as_string())
                               : std::string();
  }
  static void expect_error(const http_reply& reply, int status, const std::string& message) {
    EXPECT_EQ(reply.status, status) << reply.body;
    EXPECT_EQ(reply.body, R"({"error":")" + message + R"(","status":)" + std::to_string(status) + "}\n");
    EXPECT_EQ(reply.header("content-type"), "text/plain; charset=utf-8");
  }
  upstream_server upstream_;
  chaos_process chaos_;
};

TEST_F(chaos_api, version_is_toxiproxys_with_its_odd_spacing) {
  const auto reply = call("GET", "/version");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "{\"version\": \"2.12.0\"}\n");
  EXPECT_EQ(reply.header("content-type"), "application/json;charset=utf-8");
  EXPECT_EQ(reply.header("x-toxiproxy-request-id").size(), 20u);
}

TEST_F(chaos_api, creating_a_proxy_answers_201_with_the_bound_address_in_toxiproxys_key_order) {
  const auto reply =
      call("POST", "/proxies",
           R"({"name":"db","listen":"localhost:0","upstream":")" + upstream_.address() + R"("})");
  ASSERT_EQ(reply.status, 201) << reply.body;
  EXPECT_EQ(reply.header("content-type"), "application/json");
  const auto listen = std::string(json::parse(reply.body).at("listen").as_string());
  EXPECT_EQ(listen.rfind("127.0.0.1:", 0), 0u) << listen;
  EXPECT_NE(listen, "127.0.0.1:0");
  EXPECT_EQ(reply.body, R"({"name":"db","listen":")" + listen + R"(","upstream":")" + upstream_.address() +
                            R"(","enabled":true,"Logger":{},"toxics":[]})");
  const auto all = call("GET", "/proxies");
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.body, R"({"db":)" + reply.body + "}");
  EXPECT_EQ(call("GET", "/proxies/db").body, reply.body);
  // The proxy really listens there.
  client c(listen);
  ASSERT_TRUE(c.send("hi"));
  std::string received;
  EXPECT_EQ(c.read_exact(received, 2, milliseconds(5000)), client::outcome::data);
}

TEST_F(chaos_api, bad_proxy_requests_get_toxiproxys_errors) {
  create("db");
  expect_error(call("POST", "/proxies", R"({"name":"db","upstream":"x:1"})"), 409, "proxy already exists");
  expect_error(call("POST", "/proxies", R"({"upstream":"x:1"})"), 400, "missing required field: name");
  expect_error(call("POST", "/proxies", R"({"name":"n"})"), 400, "missing required field: upstream");
  expect_error(call("POST", "/proxies", ""), 400, "bad request body: EOF");
  const auto malformed = call("POST", "/proxies", "{\"name\":");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.body.rfind("{\"error\":\"bad request body: ", 0), 0u) << malformed.body;
  const auto wrong_type = call("POST", "/proxies", R"({"name":5,"upstream":"x:1"})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_NE(wrong_type.body.find("cannot unmarshal number"), std::string::npos) << wrong_type.body;
  expect_error(call("GET", "/proxies/none"), 404, "proxy not found");
  expect_error(call("DELETE", "/proxies/none"), 404, "proxy not found");
  expect_error(call("GET", "/proxies/none/toxics"), 404, "proxy not found");
  expect_error(call("POST", "/proxies/none/toxics", R"({"type":"noop"})"), 404, "proxy not found");
  // The server is still up and serving.
  EXPECT_EQ(call("GET", "/proxies/db").status, 200);
}

TEST_F(chaos_api, router_answers_404_405_and_403_like_toxiproxy) {
  const auto missing = call("GET", "/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "404 page not found\n");
  EXPECT_EQ(call("GET", "/proxies/").status, 404) << "a trailing slash does not match";
  const auto put = call("PUT", "/proxies");
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.body, "");
  EXPECT_EQ(call("GET", "/reset").status, 405);
  EXPECT_EQ(call("PATCH", "/proxies").status, 405);
  const auto browser = call("GET", "/proxies", "", "User-Agent: Mozilla/5.0\r\n");
  EXPECT_EQ(browser.status, 403);
  EXPECT_EQ(browser.body, "User agent not allowed\n");
}

TEST_F(chaos_api, listen_address_in_use_is_a_500_and_other_proxies_carry_on) {
  const auto first = create("first");
  const auto reply =
      call("POST", "/proxies",
           R"({"name":"second","listen":")" + first + R"(","upstream":")" + upstream_.address() + R"("})");
  expect_error(reply, 500, "listen tcp " + first + ": bind: " + address_in_use);
  expect_error(call("GET", "/proxies/second"), 404, "proxy not found");
  client c(first);
  ASSERT_TRUE(c.send("still"));
  std::string received;
  EXPECT_EQ(c.read_exact(received, 5, milliseconds(5000)), client::outcome::data);
  const auto nonsense = call("POST", "/proxies", R"({"name":"third","listen":"nonsense","upstream":"x:1"})");
  expect_error(nonsense, 500, "address nonsense: missing port in address");
}

TEST_F(chaos_api, keys_match_in_any_case_and_trailing_bytes_are_ignored) {
  const auto reply = call("POST", "/proxies",
                          R"({"NAME":"db","Listen":"127.0.0.1:0","UpStream":")" + upstream_.address() +
                              R"(","enabled":null} trailing garbage)");
  ASSERT_EQ(reply.status, 201) << reply.body;
  EXPECT_TRUE(json::parse(reply.body).at("enabled").as_bool());
}

TEST_F(chaos_api, toxics_are_created_shown_updated_and_deleted) {
  create("db");
  const auto added = call("POST", "/proxies/db/toxics", R"({"type":"latency","attributes":{"latency":100}})");
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(added.header("content-type"), "application/json");
  EXPECT_EQ(added.body,
            R"({"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency",)"
            R"("stream":"downstream","toxicity":1})");
  const auto up = call("POST", "/proxies/db/toxics",
                       R"({"name":"cut","type":"limit_data","stream":"UpStream","toxicity":0.2})");
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(
      up.body,
      R"({"attributes":{"bytes":0},"name":"cut","type":"limit_data","stream":"UpStream","toxicity":0.2})");
  const auto third = call("POST", "/proxies/db/toxics", R"({"type":"slicer","toxicity":0.33333334})");
  EXPECT_NE(third.body.find(R"("toxicity":0.33333334})"), std::string::npos) << third.body;
  EXPECT_NE(third.body.find(R"({"average_size":0,"size_variation":0,"delay":0})"), std::string::npos);

  // Upstream toxics first, then downstream, each in insertion order.
  const auto list = json::parse(call("GET", "/proxies/db/toxics").body).as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].at("name").as_string(), "cut");
  EXPECT_EQ(list[1].at("name").as_string(), "latency_downstream");
  EXPECT_EQ(list[2].at("name").as_string(), "slicer_downstream");

  // Updates merge attributes key by key; name, type and stream in the body are ignored.
  const auto patched = call("PATCH", "/proxies/db/toxics/latency_downstream",
                            R"({"attributes":{"jitter":10},"type":"noop","stream":"upstream"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.body,
            R"({"attributes":{"latency":100,"jitter":10},"name":"latency_downstream","type":"latency",)"
            R"("stream":"downstream","toxicity":1})");
  const auto posted = call("POST", "/proxies/db/toxics/latency_downstream", R"({"toxicity":0.5})");
  EXPECT_NE(posted.body.find(R"("jitter":10},)"), std::string::npos) << posted.body;
  EXPECT_NE(posted.body.find(R"("toxicity":0.5})"), std::string::npos) << posted.body;
  EXPECT_EQ(call("GET", "/proxies/db/toxics/latency_downstream").body, posted.body);

  EXPECT_EQ(call("DELETE", "/proxies/db/toxics/latency_downstream").status, 204);
  expect_error(call("GET", "/proxies/db/toxics/latency_downstream"), 404, "toxic not found");
  expect_error(call("DELETE", "/proxies/db/toxics/latency_downstream"), 404, "toxic not found");
  expect_error(call("PATCH", "/proxies/db/toxics/latency_downstream", "{}"), 404, "toxic not found");
  const auto proxy = json::parse(call("GET", "/proxies/db").body);
  EXPECT_EQ(proxy.at("toxics").as_array().size(), 2u);
}

TEST_F(chaos_api, bad_toxic_requests_get_toxiproxys_errors) {
  create("db");
  expect_error(call("POST", "/proxies/db/toxics", R"({"type":"bogus"})"), 400, "invalid toxic type");
  expect_error(call("POST", "/proxies/db/toxics", R"({"type":"noop","stream":""})"), 400,
               "stream was invalid, can be either upstream or downstream");
  expect_error(call("POST", "/proxies/db/toxics", R"({"type":"noop","stream":"sideways"})"), 400,
               "stream was invalid, can be either upstream or downstream");
  expect_error(call("POST", "/proxies/db/toxics", "[1"), 400, "bad request body: unexpected EOF");
  ASSERT_EQ(call("POST", "/proxies/db/toxics", R"({"name":"n","type":"noop"})").status, 200);
  expect_error(call("POST", "/proxies/db/toxics", R"({"name":"n","type":"latency","stream":"upstream"})"),
               409, "toxic already exists");
  const auto fraction =
      call("POST", "/proxies/db/toxics", R"({"type":"latency","attributes":{"latency":1.5}})");
  EXPECT_EQ(fraction.status, 400);
  EXPECT_NE(fraction.body.find(
                "cannot unmarshal number 1.5 into Go struct field LatencyToxic.latency of type int64"),
            std::string::npos)
      << fraction.body;
  EXPECT_EQ(call("POST", "/proxies/db/toxics", R"({"type":"latency","attributes":{"latency":1e3}})").status,
            400);
  const auto bad_update = call("PATCH", "/proxies/db/toxics/n", R"({"toxicity":"high"})");
  EXPECT_EQ(bad_update.status, 400) << bad_update.body;
}

TEST_F(chaos_api, populate_creates_keeps_and_reports_errors_as_toxiproxy_does) {
  const auto body = R"([{"name":"a","listen":"127.0.0.1:0","upstream":")" + upstream_.address() +
                    R"("},{"name":"b","listen":"127.0.0.1:0","upstream":")" + upstream_.address() +
                    R"(","enabled":false}])";
  const auto reply = call("POST", "/populate", body);
  ASSERT_EQ(reply.status, 201) << reply.body;
  const auto proxies = json::parse(reply.body).at("proxies").as_array();
  ASSERT_EQ(proxies.size(), 2u);
  EXPECT_TRUE(proxies[0].at("enabled").as_bool());
  EXPECT_FALSE(proxies[1].at("enabled").as_bool());
  EXPECT_EQ(proxies[1].at("listen").as_string(), "127.0.0.1:0") << "disabled: echoes the request";

  EXPECT_EQ(call("POST", "/populate", "[]").body, R"({"proxies":null})");
  const auto missing = call("POST", "/populate", R"([{"name":"c","upstream":"x:1"},{"upstream":"x:1"}])");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.header("content-type"), "application/json");
  EXPECT_EQ(missing.body,
            R"({"error":"missing required field: name at proxy 2","status":400,"proxies":null})");
  expect_error(call("GET", "/proxies/c"), 404, "proxy not found");
  EXPECT_EQ(call("POST", "/populate", R"({"name":"x"})").status, 400);
}

TEST_F(chaos_api, reset_enables_every_proxy_and_removes_every_toxic) {
  create("db");
  ASSERT_EQ(call("POST", "/proxies/db/toxics", R"({"type":"latency"})").status, 200);
  ASSERT_EQ(call("PATCH", "/proxies/db", R"({"enabled":false})").status, 200);
  const auto reset = call("POST", "/reset");
  EXPECT_EQ(reset.status, 204);
  EXPECT_EQ(reset.body, "");
  const auto proxy = json::parse(call("GET", "/proxies/db").body);
  EXPECT_TRUE(proxy.at("enabled").as_bool());
  EXPECT_TRUE(proxy.at("toxics").as_array().empty());
}

TEST_F(chaos_api, updating_listen_moves_the_proxy_and_delete_removes_it) {
  const auto first = create("db");
  const auto moved = call("POST", "/proxies/db", R"({"listen":"127.0.0.1:0","name":"renamed"})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  const auto value = json::parse(moved.body);
  EXPECT_EQ(value.at("name").as_string(), "db") << "a proxy cannot be renamed";
  EXPECT_NE(value.at("listen").as_string(), first) << "port 0 always rebinds";
  client moved_client(std::string(value.at("listen").as_string()));
  ASSERT_TRUE(moved_client.send("m"));
  std::string received;
  EXPECT_EQ(moved_client.read_exact(received, 1, milliseconds(5000)), client::outcome::data);
  const auto deleted = call("DELETE", "/proxies/db");
  EXPECT_EQ(deleted.status, 204);
  EXPECT_EQ(deleted.body, "");
  expect_error(call("GET", "/proxies/db"), 404, "proxy not found");
  EXPECT_EQ(call("GET", "/proxies").body, "{}");
}

// ---- the command line ------------------------------------------------------------------------------

TEST(chaos_cli, bad_flags_exit_2_with_a_precise_message) {
  const auto bad_proxy = run(cli("chaos --port 0 --proxy nonsense 2>&1"));
  EXPECT_EQ(bad_proxy.status, 2);
  EXPECT_NE(bad_proxy.out.find("--proxy 'nonsense': expected NAME=LISTEN=UPSTREAM"), std::string::npos)
      << bad_proxy.out;
  const auto bad_toxic = run(cli("chaos --port 0 --toxic p 2>&1"));
  EXPECT_EQ(bad_toxic.status, 2);
  EXPECT_NE(bad_toxic.out.find("--toxic 'p'"), std::string::npos) << bad_toxic.out;
  const auto no_file = run(cli("chaos --port 0 --config /nonexistent/populate.json 2>&1"));
  EXPECT_EQ(no_file.status, 2);
  EXPECT_NE(no_file.out.find("cannot read the file"), std::string::npos) << no_file.out;
  const auto unknown_type = run(cli("chaos --port 0 --proxy p=127.0.0.1:0=127.0.0.1:1 --toxic p:bogus 2>&1"));
  EXPECT_EQ(unknown_type.status, 1);
  EXPECT_NE(unknown_type.out.find("invalid toxic type"), std::string::npos) << unknown_type.out;
}

TEST(chaos_cli, config_file_and_toxic_flags_set_up_proxies) {
  upstream_server upstream;
  const std::string path = ::testing::TempDir() + "chaos_populate.json";
  {
    std::ofstream file(path);
    file << R"([{"name":"from_file","listen":"127.0.0.1:0","upstream":")" << upstream.address() << R"("}])";
  }
  chaos_process chaos("--seed 3 --config " + path + " --toxic from_file:latency:downstream:latency=250");
  ASSERT_TRUE(chaos.ready());
  std::remove(path.c_str());
  const auto toxics = json::parse(http(chaos.api(), "GET", "/proxies/from_file/toxics").body).as_array();
  ASSERT_EQ(toxics.size(), 1u);
  EXPECT_EQ(toxics[0].at("attributes").at("latency").as_int64(), 250);
  client c(chaos.proxy("from_file"));
  const auto start = steady::now();
  ASSERT_TRUE(c.send("x"));
  std::string received;
  EXPECT_EQ(c.read_exact(received, 1, milliseconds(5000)), client::outcome::data);
  EXPECT_GE(ms_since(start), 250);
#ifndef _WIN32  // a clean exit on SIGTERM; Windows has no signal to send (child_process.hpp)
  EXPECT_EQ(chaos.stop(), 0);
#endif
}

TEST(chaos_cli, api_port_in_use_is_a_clear_error) {
  boost::asio::io_context io;
  tcp::acceptor taken(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const auto port = taken.local_endpoint().port();
  const auto result = run(cli("chaos --port " + std::to_string(port) + " 2>&1"));
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find(address_in_use), std::string::npos) << result.out;
}

}  // namespace
