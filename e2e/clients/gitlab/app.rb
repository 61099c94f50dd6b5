# GitLab's OpenID Connect sign-in, reduced to a Rack app: the strategy GitLab
# ships (omniauth_openid_connect, Debian ruby-omniauth-openid-connect) set up
# from the Omnibus configuration in docs/integrations/gitlab.md, exactly as
# GitLab hands `args` to OmniAuth. Driven by gitlab_test.go:
#   ruby app.rb <gitlab.rb snippet> <port> <CA file>
# The callback answers with the auth hash as JSON; a failure with the
# OmniAuth error as JSON and status 500.
require 'json'
require 'logger'
require 'securerandom'
require 'openssl'
require 'rack'
require 'rack/handler/webrick'
require 'omniauth'
require 'omniauth_openid_connect'

snippet, port, ca_file = ARGV

# The test CA, for discovery (SWD), the token and userinfo calls
# (Rack::OAuth2 / OpenIDConnect), like a GitLab trusting a private CA.
[SWD, WebFinger, Rack::OAuth2, OpenIDConnect].each do |mod|
  mod.http_config { |c| c.ssl_config.add_trust_ca(ca_file) } if mod.respond_to?(:http_config)
end

# OmniAuth 2: GitLab's sign-in button POSTs with an authenticity token; this
# app's "button" is a GET.
OmniAuth.config.path_prefix = '/users/auth' # as GitLab sets it
OmniAuth.config.allowed_request_methods = %i[get post]
OmniAuth.config.silence_get_warning = true
OmniAuth.config.logger = Logger.new($stderr)
OmniAuth.config.on_failure = lambda do |env|
  err = env['omniauth.error']
  body = { error: env['omniauth.error.type'].to_s, class: err.class.to_s, message: err&.message.to_s }
  [500, { 'content-type' => 'application/json' }, [JSON.dump(body)]]
end

gitlab_rails = {}
eval(File.read(snippet), binding, snippet) # rubocop:disable Security/Eval
entry = gitlab_rails['omniauth_providers'].first
args = entry[:args].dup
args[:client_options] = args[:client_options].dup
gitlab = args[:client_options].delete(:gitlab) || {} # GitLab's own keys, not the strategy's

app = Rack::Builder.new do
  use Rack::Session::Cookie, secret: SecureRandom.hex(64), same_site: :lax
  use OmniAuth::Builder do
    provider :openid_connect, args
  end
  run lambda { |env|
    auth = env['omniauth.auth']
    return [404, { 'content-type' => 'text/plain' }, ['not found']] unless auth

    raw = auth.extra.raw_info.to_h
    groups = Array(raw[gitlab[:groups_attribute].to_s])
    body = {
      provider: auth.provider, uid: auth.uid, info: auth.info.to_h, raw_info: raw,
      groups: groups,
      admin: !(groups & Array(gitlab[:admin_groups])).empty?,
      external: !(groups & Array(gitlab[:external_groups])).empty?,
      allowed: Array(gitlab[:required_groups]).empty? || !(groups & Array(gitlab[:required_groups])).empty?,
    }
    [200, { 'content-type' => 'application/json' }, [JSON.dump(body)]]
  }
end

Rack::Handler::WEBrick.run(app, Host: '127.0.0.1', Port: port.to_i,
                                AccessLog: [], Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN)) do |server|
  trap('INT') { server.shutdown }
end
