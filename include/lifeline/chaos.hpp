// lifeline's fault-injection proxy: TCP proxies with Toxiproxy's toxics and HTTP API, driven in-process
// through `chaos::server` or over HTTP through `chaos::api`.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace lifeline::chaos {

/// The version /version reports: the Toxiproxy release whose API this follows.
inline constexpr const char* toxiproxy_version = "2.12.0";

/// An error as the API reports it: the HTTP status (400, 404, 409, 500) and Toxiproxy's message text.
struct api_error {
  int status = 500;
  std::string message;
};

/// The value of an operation that can fail with an `api_error`.
template <class T>
class result {
 public:
  result(T value) : state_(std::move(value)) {}
  result(api_error error) : state_(std::move(error)) {}
  explicit operator bool() const { return state_.index() == 0; }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const T* operator->() const { return &std::get<0>(state_); }
  const api_error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, api_error> state_;
};

/// A toxic as it is shown: Toxiproxy's JSON fields. `attributes` holds every attribute of the type.
struct toxic_info {
  std::string name;
  std::string type;
  std::string stream;  ///< as the client spelled it ("upstream", "Downstream", ...)
  float toxicity = 1.0f;
  boost::json::object attributes;
};

/// A proxy as it is shown. `listen` is the bound address once the proxy has started.
struct proxy_info {
  std::string name;
  std::string listen;
  std::string upstream;
  bool enabled = true;
  std::vector<toxic_info> toxics;  ///< upstream toxics first, then downstream, each in insertion order
};

/// What creating or replacing a proxy takes. An empty `listen` binds every interface on a free port.
struct proxy_options {
  std::string name;
  std::string listen;
  std::string upstream;
  bool enabled = true;
};

/// A change to a proxy; fields left empty keep their values.
struct proxy_update {
  std::optional<std::string> listen;
  std::optional<std::string> upstream;
  std::optional<bool> enabled;
};

/// What adding a toxic takes. An empty name becomes `<type>_<stream>`. Attributes left out are 0.
/// Types: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, noop, corrupt.
struct toxic_options {
  std::string name;
  std::string type;
  std::string stream = "downstream";
  float toxicity = 1.0f;
  boost::json::object attributes;
};

/// A change to a toxic: attributes are merged key by key; a missing toxicity stays unchanged.
struct toxic_update {
  boost::json::object attributes;
  std::optional<float> toxicity;
};

/// Checks and converts toxic attributes for `type`, merging `given` over `base`: every attribute of
/// the type is present in the result, integer attributes reject fractions, unknown keys are ignored.
result<boost::json::object> make_attributes(const std::string& type, const boost::json::object& given,
                                            const boost::json::object& base = {});

/// Takes one line for the operator.
using log_function = std::function<void(const std::string&)>;

/// The fault-injection proxies of one process, with one PRNG (seeded by `seed`) for every random
/// choice: toxicity draws, jitter, slicer sizes, corrupted bits. Runs on one executor: every member
/// function must be called from the thread that runs it (or before it runs); none blocks on I/O except
/// the resolution of a listen address. Destroying the server closes every proxy and connection.
class server {
 public:
  server(boost::asio::any_io_executor executor, std::uint64_t seed);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  std::uint64_t seed() const;
  boost::asio::any_io_executor executor() const;

  /// Where the proxies and the API report what an operator should see, one line at a time: a listener
  /// that cannot accept (out of descriptors), and when it accepts again. Nothing is reported without one.
  void set_log(log_function log);
  /// Reports one line through the function given to set_log.
  void log(const std::string& line) const;

  result<proxy_info> create_proxy(const proxy_options& options);  ///< 409 when the name is taken
  result<proxy_info> update_proxy(const std::string& name, const proxy_update& update);
  result<proxy_info> set_enabled(const std::string& name, bool enabled);
  std::optional<api_error> remove_proxy(const std::string& name);
  result<proxy_info> get_proxy(const std::string& name) const;
  std::vector<proxy_info> proxies() const;  ///< sorted by name

  /// Toxiproxy's /populate: creates, keeps or replaces each proxy in order; stops at the first error.
  /// `done` receives the proxies handled before any error.
  std::optional<api_error> populate(const std::vector<proxy_options>& proxies, std::vector<proxy_info>& done);
  /// Toxiproxy's /reset: enables every proxy and removes every toxic.
  std::optional<api_error> reset();

  result<toxic_info> add_toxic(const std::string& proxy, const toxic_options& options);
  result<toxic_info> update_toxic(const std::string& proxy, const std::string& toxic,
                                  const toxic_update& update);
  std::optional<api_error> remove_toxic(const std::string& proxy, const std::string& toxic);
  result<toxic_info> get_toxic(const std::string& proxy, const std::string& toxic) const;
  result<std::vector<toxic_info>> toxics(const std::string& proxy) const;

  /// The address a proxy is bound to, for clients in the same process.
  result<boost::asio::ip::tcp::endpoint> endpoint(const std::string& proxy) const;
  /// Live connections through a proxy (0 for an unknown name).
  std::size_t connection_count(const std::string& proxy) const;

  /// Closes every proxy and connection.
  void close();

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// The HTTP control API for a server: Toxiproxy 2's routes, status codes and JSON. One coroutine per
/// HTTP connection on the server's executor.
class api {
 public:
  /// Binds `host:port` (port 0 picks a free one) and starts accepting.
  static result<std::unique_ptr<api>> start(server& proxies, const std::string& host, std::uint16_t port);
  ~api();
  boost::asio::ip::tcp::endpoint endpoint() const;
  void close();

  struct impl;
  explicit api(std::shared_ptr<impl> state);

 private:
  std::shared_ptr<impl> impl_;
};

/// JSON as Toxiproxy writes it (compact, keys in Toxiproxy's order, `<>&` escaped).
std::string to_json(const proxy_info& proxy);
std::string to_json(const toxic_info& toxic);

/// Parses a populate document (a JSON array of proxies). 400 errors as /populate gives them.
result<std::vector<proxy_options>> parse_populate(std::string_view body);

}  // namespace lifeline::chaos
