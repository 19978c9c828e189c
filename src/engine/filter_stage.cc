#include "engine/filter_stage.h"

#include <map>
#include <mutex>

namespace vidmill::engine {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, FilterStageFactory> factories;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();  // never destroyed: usable during exit
  return *registry;
}

}  // namespace

bool IsOwnFilterName(const std::string& name) {
  return name == "deint" || name == "denoise" || name == "dejit" || name == "pabsr1" ||
         name == "dvres" || name == "filmgrain";
}

Status RegisterFilterStage(const std::string& name, FilterStageFactory factory) {
  if (!IsOwnFilterName(name)) {
    return Status::InvalidArgument("'" + name +
                                   "' is not one of Vidmill's own filters (deint, denoise, dejit, "
                                   "pabsr1, dvres, filmgrain)");
  }
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  registry.factories[name] = std::move(factory);
  return Status::Ok();
}

void UnregisterFilterStage(const std::string& name) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  registry.factories.erase(name);
}

bool HasFilterStage(const std::string& name) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  return registry.factories.count(name) > 0;
}

std::vector<std::string> RegisteredFilterStages() {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  std::vector<std::string> names;
  for (const auto& [name, unused] : registry.factories) {
    names.push_back(name);
  }
  return names;
}

Result<std::unique_ptr<FilterStage>> MakeFilterStage(const FilterStageOptions& options) {
  FilterStageFactory factory;
  {
    Registry& registry = GetRegistry();
    std::lock_guard<std::mutex> lock(registry.mutex);
    auto it = registry.factories.find(options.name);
    if (it != registry.factories.end()) {
      factory = it->second;
    }
  }
  if (!factory) {
    return Status::NotImplemented("the '" + options.name +
                                  "' filter arrives with Vidmill's own filters and is not built "
                                  "yet; choose a stock filter instead");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<FilterStage> stage, factory(options));
  if (stage == nullptr) {
    return Status::Internal("the factory of filter '" + options.name + "' made no stage");
  }
  return stage;
}

}  // namespace vidmill::engine
