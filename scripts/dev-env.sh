# Development values for the app's secret variables (sourced by scripts/up and the tests).
# Never use these anywhere but on a developer's machine: production sets real secrets
# through Spin's variable providers (SPIN_VARIABLE_*, Vault, Azure Key Vault, Kubernetes secrets)
# and leaves auth_mode unset (strict: signed tokens only, no static tokens).
for pair in job_token=dev-job-token admin_token=dev-admin-token rider_token=dev-rider-token \
  meituan_secret=dev-meituan-secret eleme_secret=dev-eleme-secret app_secret=dev-app-secret \
  miniprogram_secret=dev-miniprogram-secret pos_secret=dev-pos-secret groupbuy_secret=dev-groupbuy-secret \
  auth_mode=dev auth_keys=dev1:orderhub-development-signing-key-0001 auth_fail_limit=100000; do
  name=SPIN_VARIABLE_$(echo "${pair%%=*}" | tr '[:lower:]' '[:upper:]')
  [ -n "${!name:-}" ] || export "$name=${pair#*=}"
done
[ -n "${SPIN_VARIABLE_EXT_CHANNEL_SECRETS:-}" ] || export SPIN_VARIABLE_EXT_CHANNEL_SECRETS='{"dingdong":"dev-dingdong-secret"}'
