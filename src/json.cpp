// Boost.JSON compiled into lifeline (header-only mode), so that the Linux and Windows builds link it
// the same way.
#include <boost/json/src.hpp>
