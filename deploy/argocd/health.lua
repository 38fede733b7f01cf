-- Argo CD health check for every sagemaker.operator.dev kind (Lua 5.1, as Argo CD runs it).
-- Installed once per kind by argocd-cm.yaml; tested by tests/chart/test_argocd_health.py.
--   Degraded=True for the current generation             -> Degraded (the message says what needs a person)
--   Ready=True and observedGeneration == generation      -> Healthy
--   anything else: no status yet, the operator has not seen the latest spec, AWS is working -> Progressing
-- The operator writes the three conditions on every reconcile, each with the observedGeneration it was
-- computed for; a condition computed for an older spec says nothing about the current one.
local hs = {status = "Progressing", message = "Waiting for the operator to reconcile this " .. tostring(obj.kind)}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata.generation
local found = {}
for _, condition in ipairs(obj.status.conditions) do
  if condition.type ~= nil then
    found[condition.type] = condition
  end
end
local function observed(condition)
  if condition.observedGeneration ~= nil then
    return condition.observedGeneration
  end
  return obj.status.observedGeneration
end
local function current(condition)
  local seen = observed(condition)
  return seen ~= nil and generation ~= nil and seen == generation
end
local degraded = found["Degraded"]
local ready = found["Ready"]
local progressing = found["Progressing"]
if degraded ~= nil and degraded.status == "True" then
  if current(degraded) or observed(degraded) == nil then
    hs.status = "Degraded"
    hs.message = degraded.message or degraded.reason or "Degraded"
    return hs
  end
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation)
  return hs
end
if ready ~= nil and ready.status == "True" and current(ready) then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
if progressing ~= nil and progressing.status == "True" and current(progressing) and progressing.message ~= nil then
  hs.message = progressing.message
elseif ready ~= nil and current(ready) and ready.message ~= nil then
  hs.message = ready.message
elseif generation ~= nil then
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation)
end
return hs
