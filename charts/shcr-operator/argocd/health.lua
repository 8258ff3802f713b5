-- Argo CD health check for the shcr.io kinds: ShCRRegion, MemberOrganisation,
-- DataSharingAgreement and AccessPolicy. All four report Ready, Reconciling
-- and Stalled conditions and status.observedGeneration (the kstatus
-- convention); this script reads them the same way kstatus does.
local hs = {status = "Progressing", message = "waiting for the shcr-operator to report status"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local conditions = {}
for _, c in ipairs(obj.status.conditions) do
  conditions[c.type] = c
end
local function is(t, s)
  return conditions[t] ~= nil and conditions[t].status == s
end
local function message(t)
  if conditions[t] ~= nil and conditions[t].message ~= nil and conditions[t].message ~= "" then
    return conditions[t].message
  end
  return t
end

if obj.spec ~= nil and (obj.spec.paused == true or obj.spec.suspended == true) then
  hs.status = "Suspended"
  hs.message = "suspended by its spec"
  return hs
end
-- A superseded agreement version is retired, its successor in force: not
-- broken, and not serving either.
if obj.status.phase == "Superseded" then
  hs.status = "Suspended"
  hs.message = "agreement " .. message("Ready")
  return hs
end
if is("Stalled", "True") then
  hs.status = "Degraded"
  hs.message = message("Stalled")
  return hs
end
if is("Reconciling", "True") then
  hs.message = message("Reconciling")
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.message = "the operator has not yet reconciled the latest spec"
  return hs
end
-- An agreement awaiting signatures or its start date is on its way, not broken.
if obj.status.phase == "Draft" or obj.status.phase == "Pending" then
  hs.message = "agreement " .. obj.status.phase .. ": " .. message("Ready")
  return hs
end
if is("Ready", "True") then
  hs.status = "Healthy"
  hs.message = message("Ready")
  return hs
end
if is("Ready", "False") then
  hs.status = "Degraded"
  hs.message = message("Ready")
end
return hs
