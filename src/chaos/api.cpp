// The HTTP control API: Toxiproxy 2's routes over Boost.Beast, one coroutine per HTTP connection, request
// bodies decoded with Go's encoding/json rules (keys in any case, null as default, first value only).
#include "../accept_loop.hpp"
#include "../listener.hpp"
#include "api_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/core.h>

namespace lifeline::chaos {
namespace detail {
namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t body_limit = 1024 * 1024;

asio::awaitable<void> http_session(std::shared_ptr<api_state> a, std::shared_ptr<beast::tcp_stream> stream) {
  beast::flat_buffer buffer;
  while (!a->closed) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    stream->expires_after(std::chrono::seconds(60));  // Toxiproxy's idle timeout between requests
    auto [hec, hn] = co_await http::async_read_header(*stream, buffer, parser, use_nothrow);
    if (hec || a->closed) break;
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      // curl asks before sending a body over 1 KB; Go's server answers for Toxiproxy.
      http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
      co_await http::async_write(*stream, go_on, use_nothrow);
    }
    stream->expires_after(std::chrono::seconds(15));  // and its read timeout for the request
    auto [ec, n] = co_await http::async_read(*stream, buffer, parser, use_nothrow);
    if (ec == http::error::body_limit) {
      request req;
      auto res = error_response(req, bad_body("http: request body too large"));
      res.keep_alive(false);
      res.prepare_payload();
      co_await http::async_write(*stream, res, use_nothrow);
      break;
    }
    if (ec || a->closed) break;
    const auto req = parser.release();
    bool matched = false;
    auto res = route(*a, req, matched);
    if (matched) res.set("X-Toxiproxy-Request-Id", a->request_id());
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    stream->expires_after(std::chrono::seconds(30));
    auto [wec, written] = co_await http::async_write(*stream, res, use_nothrow);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream->close();
  a->sessions.erase(stream);
}

asio::awaitable<void> accept_loop(std::shared_ptr<api_state> a) {
  co_await lifeline::detail::accept_loop(
      a->acceptor,
      lifeline::detail::accept_handlers<tcp::socket>{
          .accepted =
              [&](tcp::socket socket) {
                auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
                a->sessions.insert(stream);
                asio::co_spawn(a->acceptor.get_executor(), http_session(a, stream), asio::detached);
              },
          .log = [&](const std::error_code&, const std::string& line) { a->proxies.log("API: " + line); },
          .closed = [&] { return a->closed; }});
}

}  // namespace
}  // namespace detail

struct api::impl : detail::api_state {
  using api_state::api_state;
};

api::api(std::shared_ptr<impl> state) : impl_(std::move(state)) {}

api::~api() { close(); }

result<std::unique_ptr<api>> api::start(server& proxies, const std::string& host, std::uint16_t port) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  auto executor = proxies.executor();
  tcp::resolver resolver(executor);
  boost::system::error_code ec;
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return api_error{500, fmt::format("lookup {}: {}", host, ec ? ec.message() : "no such host")};
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) {
      endpoint = entry.endpoint();
      break;
    }
  }
  tcp::acceptor acceptor(executor);
  const char* step = "listen";
  if (auto lec = lifeline::detail::listen_on(acceptor, endpoint, &step)) {
    return api_error{500, fmt::format("listen tcp {}: {}: {}", detail::format_endpoint(endpoint), step,
                                      detail::os_error_text(lec))};
  }
  auto state = std::make_shared<impl>(proxies, std::move(acceptor));
  asio::co_spawn(executor, detail::accept_loop(state), asio::detached);
  return std::make_unique<api>(state);
}

boost::asio::ip::tcp::endpoint api::endpoint() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec);
}

void api::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->socket().close(ignored);
}

}  // namespace lifeline::chaos
