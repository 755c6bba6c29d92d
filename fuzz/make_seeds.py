"""Writes the seed corpora of the fuzz targets: python3 fuzz/make_seeds.py fuzz/corpus

Realistic inputs, one small file each: managed-identity and Entra answers in the shapes each
endpoint sends (tokens are JWTs with made-up claims and signatures), Id.Web appsettings.json
files, environment variable sets, and PEM/PFX files made with openssl (fresh keys each run).
The committed corpus also holds each input that once failed (regression-*), which this script
does not write: keep those files when regenerating.
"""
import base64, json, os, sys
root = sys.argv[1]
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
def jwt(payload, header=None):
    header = header or {"typ":"JWT","alg":"RS256","x5t":"KQ2tAcrE7lBaViGmN3A2ZxX9uS0","kid":"KQ2tAcrE7lBaViGmN3A2ZxX9uS0"}
    sig = b64u(bytes((i*37+11) % 256 for i in range(64)))  # a short, fake signature
    return b64u(json.dumps(header, separators=(',',':')).encode()) + '.' + b64u(json.dumps(payload, separators=(',',':')).encode()) + '.' + sig
T = "72f988bf-86f1-41af-91ab-2d7cd011db47"
NOW = 1_700_000_000
mi_payload = {"aud":"fb60f99c-7a34-4190-8149-302f77469936","iss":f"https://login.microsoftonline.com/{T}/v2.0","iat":NOW-300,"nbf":NOW-300,"exp":NOW+86399,
  "aio":"k2BgYDiJ8s3v","azp":"a1b2c3d4-0000-1111-2222-333344445555","azpacr":"2","oid":"e2b7a1c3-5d4f-4e6a-9b8c-7d6e5f4a3b2c","rh":"0.AXgAv4j5cvGGr0GRqy180BHbRw.",
  "sub":"e2b7a1c3-5d4f-4e6a-9b8c-7d6e5f4a3b2c","tid":T,"uti":"mGpQdDzC3ku3fX0Zv5pTAA","ver":"2.0",
  "xms_mirid":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourcegroups/rg-app/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app"}
mi_tok = jwt(mi_payload)
graph_payload = {"aud":"https://graph.microsoft.com","iss":f"https://sts.windows.net/{T}/","iat":NOW-5,"nbf":NOW-5,"exp":NOW+3599,"aio":"E2NgYFj","app_displayname":"contoso-app",
  "appid":"11111111-2222-3333-4444-555555555555","appidacr":"2","idp":f"https://sts.windows.net/{T}/","idtyp":"app","oid":"6f1c8b2a-0000-4c1d-9e2f-3a4b5c6d7e8f","rh":"0.AXgAv4j5c.",
  "roles":["Sites.Selected"],"sub":"6f1c8b2a-0000-4c1d-9e2f-3a4b5c6d7e8f","tenant_region_scope":"EU","tid":T,"uti":"x2Yh0Z","ver":"1.0","xms_tcdt":1289241547}
graph_tok = jwt(graph_payload)
spo_tok = jwt(dict(graph_payload, aud="00000003-0000-0ff1-ce00-000000000000", exp=NOW+86399, xms_cc=["cp1"]))
def w(target, name, data):
    d = os.path.join(root, target); os.makedirs(d, exist_ok=True)
    if isinstance(data, str): data = data.encode()
    open(os.path.join(d, name), 'wb').write(data)
def j(o): return json.dumps(o, indent=2)

# --- mi_token: 200 bodies of each source
w('mi_token','imds.json', json.dumps({"access_token":mi_tok,"client_id":"a1b2c3d4-0000-1111-2222-333344445555","expires_in":"86399","expires_on":str(NOW+86399),"ext_expires_in":"86399","not_before":str(NOW-300),"resource":"api://AzureADTokenExchange","token_type":"Bearer"}))
w('mi_token','app_service_2019.json', json.dumps({"access_token":mi_tok,"expires_on":str(NOW+86399),"resource":"api://AzureADTokenExchange","token_type":"Bearer","client_id":"a1b2c3d4-0000-1111-2222-333344445555"}))
w('mi_token','app_service_2017.json', json.dumps({"access_token":mi_tok,"expires_on":"11/15/2023 10:13:19 PM +00:00","resource":"api://AzureADTokenExchange","token_type":"Bearer"}))
w('mi_token','service_fabric.json', json.dumps({"token_type":"Bearer","access_token":mi_tok,"expires_on":NOW+86399,"resource":"api://AzureADTokenExchange"}))
w('mi_token','azure_arc.json', json.dumps({"access_token":mi_tok,"expires_in":"86399","expires_on":str(NOW+86399),"ext_expires_in":"86399","not_before":str(NOW-300),"resource":"api://AzureADTokenExchange","token_type":"Bearer"}))
w('mi_token','cloud_shell.json', json.dumps({"access_token":mi_tok,"refresh_token":"","expires_in":"3599","expires_on":str(NOW+3599),"not_before":str(NOW),"resource":"api://AzureADTokenExchange","token_type":"Bearer"}))
w('mi_token','azure_ml.json', json.dumps({"access_token":mi_tok,"expires_in":86399,"token_type":"Bearer","resource":"api://AzureADTokenExchange","client_id":"a1b2c3d4-0000-1111-2222-333344445555"}))
w('mi_token','iso8601.json', json.dumps({"access_token":"opaque-token-value","expires_on":"2023-11-15T22:13:19.1234567+00:00","refresh_in":43200}))
w('mi_token','milliseconds.json', json.dumps({"access_token":mi_tok,"expires_on":(NOW+86399)*1000}))
w('mi_token','proxy_page.html', "<html><head><title>Access denied</title></head><body>The requested URL was rejected.</body></html>\n")

# --- mi_error: "<source> <status> [id]", headers, blank line, body
def http(first, headers, body):
    return first + "\r\n" + "".join(f"{k}: {v}\r\n" for k,v in headers) + "\r\n" + body
w('mi_error','imds_400_identity_not_found.txt', http("imds 400 client",[("Content-Type","application/json; charset=utf-8"),("Server","IMDS/150.870.65.1414")], json.dumps({"error":"invalid_request","error_description":"Identity not found"})))
w('mi_error','imds_400_metadata.txt', http("imds 400",[("Content-Type","application/json; charset=utf-8")], json.dumps({"error":"bad_request_102","error_description":"Required metadata header not specified"})))
w('mi_error','imds_400_multiple.txt', http("imds 400",[("Content-Type","application/json")], json.dumps({"error":"invalid_request","error_description":"Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"})))
w('mi_error','imds_400_resource.txt', http("imds 400 resource",[("Content-Type","application/json")], json.dumps({"error":"invalid_resource","error_description":"AADSTS500011: The resource principal named api://AzureADTokenExchang was not found in the tenant named Contoso. Trace ID: 0c1e2f3a\r\nCorrelation ID: 9d8c7b6a\r\nTimestamp: 2023-11-14 22:13:20Z"})))
w('mi_error','imds_404.txt', http("imds 404 object",[("Content-Type","application/json")], json.dumps({"error":"not_found","error_description":"Identity not found"})))
w('mi_error','imds_410.txt', http("imds 410",[("Content-Type","text/plain")], "Gone"))
w('mi_error','imds_429.txt', http("imds 429",[("Retry-After","5"),("Content-Type","application/json")], json.dumps({"error":"too_many_requests","error_description":"Too many requests"})))
w('mi_error','imds_503_date.txt', http("imds 503",[("Retry-After","Tue, 14 Nov 2023 22:15:20 GMT"),("Date","Tue, 14 Nov 2023 22:13:20 GMT")], ""))
w('mi_error','imds_docker_desktop.txt', http("imds 403",[("Content-Type","text/plain")], "connecting to 169.254.169.254:80: connecting to 169.254.169.254:80: dial tcp 169.254.169.254:80: connect: A socket operation was attempted to an unreachable network."))
w('mi_error','proxy_407.txt', http("imds 407",[("Proxy-Authenticate","Basic realm=\"corp\""),("Via","1.1 squid")], "<html><body>Proxy Authentication Required</body></html>"))
w('mi_error','proxy_html.txt', http("imds 502",[("Content-Type","text/html"),("X-Squid-Error","ERR_CONNECT_FAIL 111")], "<html><body><h1>ERROR</h1><p>The requested URL could not be retrieved</p></body></html>"))
w('mi_error','app_service_400.txt', http("app_service 400 client",[("Content-Type","application/json"),("x-ms-request-id","5d3a2c1b-0000-4e5f-8a9b-0c1d2e3f4a5b")], json.dumps({"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"7f3c5e2a-1b4d-4c6e-8f9a-0b1c2d3e4f5a"})))
w('mi_error','app_service_500.txt', http("app_service 500",[("Content-Type","application/json")], json.dumps({"statusCode":500,"message":"An unexpected error occured while fetching the AAD Token.","correlationId":"aa11bb22-0000-4e5f-8a9b-0c1d2e3f4a5b"})))
w('mi_error','app_service_echo.txt', http("app_service 400",[("Content-Type","application/json")], json.dumps({"statusCode":400,"message":"Bad token "+mi_tok})))
w('mi_error','service_fabric_401.txt', http("service_fabric 401",[("Content-Type","application/json")], json.dumps({"error":{"code":"SecretHeaderNotFound","message":"Secret is not found in the request headers."}})))
w('mi_error','service_fabric_500.txt', http("service_fabric 500 object",[("Content-Type","application/json")], json.dumps({"error":{"code":"InternalError","message":"An internal error occurred."}})))
w('mi_error','azure_arc_400.txt', http("azure_arc 400",[("Content-Type","application/json")], json.dumps({"error":"invalid_request","error_description":"Parameter resource is required"})))
w('mi_error','azure_ml_400.txt', http("azure_ml 400 client",[("Content-Type","application/json")], json.dumps({"error":"invalid_request","error_description":"Requested identity not assigned to the compute"})))
w('mi_error','cloud_shell_400.txt', http("cloud_shell 400",[("Content-Type","application/json")], json.dumps({"error":"invalid_request","error_description":"resource is missing"})))

# --- arc_challenge: WWW-Authenticate values
for name, value in [("linux.txt","Basic realm=/var/opt/azcmagent/tokens/agent.key"),("windows.txt","Basic realm=C:\\ProgramData\\AzureConnectedMachineAgent\\Tokens\\agent.key"),
                    ("traversal.txt","Basic realm=/var/opt/azcmagent/tokens/../beside.key"),("subdir.txt","Basic realm=/var/opt/azcmagent/tokens/sub/below.key"),
                    ("large.txt","Basic realm=/var/opt/azcmagent/tokens/large.key"),("not_key.txt","Basic realm=/etc/shadow"),("bearer.txt","Bearer realm=\"himds\", error=\"invalid_token\"")]:
    w('arc_challenge', name, value)

# --- entra_token
w('entra_token','v2.json', json.dumps({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":graph_tok}))
w('entra_token','cae_refresh_in.json', json.dumps({"token_type":"Bearer","expires_in":86399,"ext_expires_in":86399,"refresh_in":43199,"access_token":spo_tok}))
w('entra_token','v1_strings.json', json.dumps({"token_type":"Bearer","expires_in":"3599","ext_expires_in":"3599","expires_on":str(NOW+3599),"not_before":str(NOW),"resource":"https://graph.microsoft.com","access_token":graph_tok}))
w('entra_token','pop.json', json.dumps({"token_type":"pop","expires_in":3599,"access_token":"opaque.access.token-value"}))
w('entra_token','bad_lifetime.json', json.dumps({"token_type":"Bearer","expires_in":999999999,"access_token":graph_tok}))

# --- entra_error
def entra_body(code, msg, err="invalid_client"):
    return json.dumps({"error":err,"error_description":f"AADSTS{code}: {msg}\r\nTrace ID: 0f7a6e24-2d4b-4c9a-9b43-3d5c1e1f2a00\r\nCorrelation ID: 3c2b1a09-8f7e-4d6c-5b4a-392817160504\r\nTimestamp: 2023-11-14 22:13:20Z",
        "error_codes":[code],"timestamp":"2023-11-14 22:13:20Z","trace_id":"0f7a6e24-2d4b-4c9a-9b43-3d5c1e1f2a00","correlation_id":"3c2b1a09-8f7e-4d6c-5b4a-392817160504","error_uri":"https://login.microsoftonline.com/error?code="+str(code)})
hdrs=[("Content-Type","application/json; charset=utf-8"),("x-ms-request-id","0f7a6e24-2d4b-4c9a-9b43-3d5c1e1f2a00"),("client-request-id","3c2b1a09-8f7e-4d6c-5b4a-392817160504")]
w('entra_error','70021.txt', http("400",hdrs, entra_body(70021, f"No matching federated identity record found for presented assertion. Assertion Issuer: 'https://login.microsoftonline.com/{T}/v2.0'. Assertion Subject: 'e2b7a1c3-5d4f-4e6a-9b8c-7d6e5f4a3b2c'. Assertion Audience: 'api://AzureADTokenExchange'.")))
w('entra_error','700024.txt', http("400",hdrs, entra_body(700024, "Client assertion is not within its valid time range. Current time: 2023-11-14T22:13:20.0000000Z, assertion valid from 2023-11-13T22:08:20.0000000Z, expiry time of assertion 2023-11-14T22:08:19.0000000Z.")))
w('entra_error','7002138.txt', http("400",hdrs, entra_body(7002138, "No matching federated identity record found for presented assertion subject 'e2b7a1c3-5d4f-4e6a-9b8c-7d6e5f4a3b2c'. Please note that the matching is done using a case-sensitive comparison.")))
w('entra_error','700016.txt', http("400",hdrs, entra_body(700016, f"Application with identifier '11111111-2222-3333-4444-555555555555' was not found in the directory '{T}'.", "unauthorized_client")))
w('entra_error','90002.txt', http("400",hdrs, entra_body(90002, "Tenant 'contoso.onmicrosoft.com' not found.", "invalid_request")))
w('entra_error','500011.txt', http("400",hdrs, entra_body(500011, "The resource principal named https://contoso.sharepoint.com was not found in the tenant named Contoso.", "invalid_resource")))
w('entra_error','50049_no_codes.txt', http("400",[("Content-Type","application/json")], json.dumps({"error":"invalid_instance","error_description":"AADSTS50049: Unknown or invalid instance."})))
w('entra_error','assertion_echo.txt', http("401",hdrs, json.dumps({"error":"invalid_client","error_description":"AADSTS700027: Client assertion failed signature validation. Assertion: "+mi_tok,"error_codes":[700027]})))
w('entra_error','429.txt', http("429",[("Retry-After","30"),("Content-Type","application/json")], entra_body(90055, "Request throttled.", "temporarily_unavailable")))
w('entra_error','503_html.txt', http("503",[("Content-Type","text/html"),("Retry-After","Tue, 14 Nov 2023 22:14:20 GMT"),("Date","Tue, 14 Nov 2023 22:13:20 GMT")], "<html><body>Service Unavailable</body></html>"))
w('entra_error','404_plain.txt', http("404",[("Content-Type","text/plain")], "Not Found"))

# --- expiry
for name, value in [("epoch.txt","1700086399"),("relative.txt","86399"),("iso.txt","2023-11-15T22:13:19Z"),("iso_offset.txt","2023-11-15T23:13:19.1234567+01:00"),
                    ("iso_space.txt","2023-11-15 22:13:19"),("us_date.txt","11/15/2023 10:13:19 PM +00:00"),("millis.json","1700086399000"),("float.json","3599.5"),
                    ("quoted.json","\"1700086399\""),("retry_seconds.txt","120"),("retry_date.txt","Tue, 14 Nov 2023 22:15:20 GMT\nTue, 14 Nov 2023 22:13:20 GMT")]:
    w('expiry', name, value)

# --- jwt
w('jwt','managed_identity.txt', mi_tok)
w('jwt','graph.txt', graph_tok)
w('jwt','sharepoint_cae.txt', spo_tok)
w('jwt','aud_array.txt', jwt({"aud":["api://AzureADTokenExchange","x"],"exp":1.7000036e9,"iss":"https://kubernetes.default.svc","sub":"system:serviceaccount:default:workload"}))
w('jwt','unsigned.txt', jwt({"exp":NOW+600}, {"alg":"none"})[:-86] + '.')

# --- aadsts
w('aadsts','70021.txt', f"AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: 'https://login.microsoftonline.com/{T}/v2.0'.\r\nTrace ID: 0f7a6e24\r\nCorrelation ID: 3c2b1a09\r\nTimestamp: 2023-11-14 22:13:20Z")
w('aadsts','two.txt', "AADSTS700024: Client assertion is not within its valid time range. AADSTS50013: Assertion failed signature validation.")
w('aadsts','unknown.txt', "AADSTS9999999: something new. AADSTS: no digits. AADSTS0070021 leading zeros")

# --- scopes
for name, value in [("graph.txt","https://graph.microsoft.com/.default"),("sharepoint.txt","https://contoso.sharepoint.com/.default"),("bare.txt","https://contoso.sharepoint.com/"),
                    ("exchange.txt","api://AzureADTokenExchange"),("guid.txt","00000003-0000-0ff1-ce00-000000000000"),("two_same.txt","https://graph.microsoft.com/.default\nhttps://graph.microsoft.com"),
                    ("delegated.txt","https://graph.microsoft.com/User.Read"),("two_resources.txt","https://graph.microsoft.com/.default\nhttps://management.azure.com/.default")]:
    w('scopes', name, value)

# --- config_json
G = lambda n: f"{n}1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
template = '''/*
The following identity settings need to be configured
before the project can be successfully executed.
For more info see https://aka.ms/dotnet-template-ms-identity-platform
*/
{
  "AzureAd": {
    "Instance": "https://login.microsoftonline.com/",
    "Domain": "contoso.onmicrosoft.com",
    "TenantId": "%s",
    "ClientId": "%s",
    // "ClientSecret": "[Copy the client secret added to the app from the Azure portal]",
    "ClientCredentials": [
      {
        "SourceType": "SignedAssertionFromManagedIdentity",
        "ManagedIdentityClientId": "%s"
      },
    ],
    "CallbackPath": "/signin-oidc"
  },
  "Logging": {
    "LogLevel": {
      "Default": "Information",
      "Microsoft.AspNetCore": "Warning"
    }
  },
  "AllowedHosts": "*"
}
''' % (T, G('a'), G('b'))
w('config_json','identity_template.json', template)
w('config_json','bom.json', '\ufeff' + j({"AzureAd":{"Instance":"https://login.microsoftonline.com/","TenantId":T,"ClientId":G('a'),"ClientCredentials":[{"SourceType":"SignedAssertionFromManagedIdentity"}]}}))
w('config_json','section_only.json', j({"Instance":"https://login.microsoftonline.com/","TenantId":"contoso.onmicrosoft.com","ClientId":G('a'),"ClientCredentials":[{"SourceType":"SignedAssertionFromManagedIdentity","ManagedIdentityClientId":G('b'),"TokenExchangeUrl":"api://AzureADTokenExchange"}]}))
w('config_json','chain.json', j({"AzureAd":{"Instance":"https://login.microsoftonline.com/","TenantId":T,"ClientId":G('a'),"SendX5C":True,"ClientCredentials":[
   {"SourceType":"SignedAssertionFromManagedIdentity","ManagedIdentityObjectId":G('c')},
   {"SourceType":"KeyVault","KeyVaultUrl":"https://contoso-kv.vault.azure.net","KeyVaultCertificateName":"app-cert"},
   {"SourceType":"StoreWithThumbprint","CertificateStorePath":"CurrentUser/My","CertificateThumbprint":"962D129A859174EE8B5596985BD18EFEB6961684"},
   {"SourceType":"Base64Encoded","Base64EncodedValue":"MIIKcQIBAzCCCi0GCSqGSIb3DQEHAaCCCh4EggoaMIIKFjCCBg8GCSqGSIb3DQEHAaCCBgAEggX8","CertificatePassword":"pfx-password-123"},
   {"SourceType":"ClientSecret","ClientSecret":"Xy98Q~a1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwX","Skip":"true"},
   {"SourceType":"SignedAssertionFilePath","SignedAssertionFileDiskPath":"/var/run/secrets/azure/tokens/azure-identity-token"}]}}))
w('config_json','authority.json', j({"AzureAd":{"Authority":"https://login.microsoftonline.us/contoso.onmicrosoft.us/v2.0","ClientId":G('a'),"ClientCredentials":[{"SourceType":"SignedAssertionFromManagedIdentity","ManagedIdentityResourceId":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app"}]}}))
w('config_json','legacy_shapes.json', j({"AzureAd":{"Instance":"https://login.chinacloudapi.cn/","TenantId":T,"ClientId":G('a'),"ClientSecret":"legacy-secret-value-0123456789","ClientCertificates":[{"SourceType":"Path","CertificateDiskPath":"/etc/certless/app.pfx","CertificatePassword":"another-password"}]}}))
w('config_json','placeholders.json', j({"AzureAd":{"Instance":"https://login.microsoftonline.com/","TenantId":"YOUR_TENANT_ID","ClientId":"[Enter_client_id_here]","ClientCredentials":[{"SourceType":"SignedAssertionFromManagedIdentity","ManagedIdentityClientId":"USER_ASSIGNED_MSI_CLIENT_ID"}]}}))
w('config_json','typo.json', j({"AzureAd":{"TennantId":T,"clientid":G('a')}}))

# --- config_env: NAME=VALUE lines
envs = {
 'app_service.env': {"AZURE_TENANT_ID":T,"AZURE_CLIENT_ID":G('a'),"IDENTITY_ENDPOINT":"http://127.0.0.1:41741/MSI/token/","IDENTITY_HEADER":"3A0F1E2D-4C5B-6A79-8877-665544332211","CERTLESS_MANAGED_IDENTITY_CLIENT_ID":G('b')},
 'service_fabric.env': {"AZURE_TENANT_ID":T,"AZURE_CLIENT_ID":G('a'),"IDENTITY_ENDPOINT":"https://10.0.0.4:2377/metadata/identity/oauth2/token","IDENTITY_HEADER":"eyJhbGciOiJub25lIn0-service-fabric-secret","IDENTITY_SERVER_THUMBPRINT":"\u200e96 2D 12 9A 85 91 74 EE 8B 55 96 98 5B D1 8E FE B6 96 16 84"},
 'azure_arc.env': {"AZURE_TENANT_ID":T,"AZURE_CLIENT_ID":G('a'),"IDENTITY_ENDPOINT":"http://localhost:40342/metadata/identity/oauth2/token","IMDS_ENDPOINT":"http://localhost:40342"},
 'cloud_shell.env': {"AZURE_TENANT_ID":T,"AZURE_CLIENT_ID":G('a'),"MSI_ENDPOINT":"http://localhost:50342/oauth2/token"},
 'azure_ml.env': {"AZURE_TENANT_ID":T,"AZURE_CLIENT_ID":G('a'),"MSI_ENDPOINT":"http://10.0.0.4:46808/MSI/auth","MSI_SECRET":"Zm9vYmFyYmF6cXV4LXNlY3JldA","DEFAULT_IDENTITY_CLIENT_ID":G('c')},
 'imds_pod_identity.env': {"AZURE_TENANT_ID":"contoso.onmicrosoft.com","AZURE_CLIENT_ID":G('a'),"AZURE_POD_IDENTITY_AUTHORITY_HOST":"http://169.254.169.254","CERTLESS_MANAGED_IDENTITY_RESOURCE_ID":"/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"},
 'aks_workload.env': {"AZURE_TENANT_ID":T,"AZURE_CLIENT_ID":G('a'),"AZURE_AUTHORITY_HOST":"https://login.microsoftonline.com/","AZURE_FEDERATED_TOKEN_FILE":"/var/run/secrets/azure/tokens/azure-identity-token","CERTLESS_REQUEST_DEADLINE":"90"},
 'fallbacks.env': {"AZURE_TENANT_ID":T,"AZURE_CLIENT_ID":G('a'),"AZURE_CLIENT_SECRET":"Xy98Q~a1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwX","AZURE_CLIENT_SEND_CERTIFICATE_CHAIN":"true","HTTPS_PROXY":"http://user:proxy-pass-1234@proxy.contoso.com:3128","NO_PROXY":"localhost,127.0.0.1,.internal","CERTLESS_MANAGED_IDENTITY_SOURCE":"imds"},
 'sovereign.env': {"AZURE_TENANT_ID":T,"AZURE_CLIENT_ID":G('a'),"AZURE_AUTHORITY_HOST":"https://login.chinacloudapi.cn","CERTLESS_TOKEN_EXCHANGE_AUDIENCE":"api://AzureADTokenExchangeChina","CERTLESS_MANAGED_IDENTITY_OBJECT_ID":G('d')},
}
for name, d in envs.items():
    w('config_env', name, "".join(f"{k}={v}\n" for k,v in d.items()))

# --- certificate: PEM and PFX files made with openssl (an input starting with a
# "password=..." line is opened with that password)
import subprocess, tempfile
def run(*args):
    subprocess.run(args, check=True, capture_output=True)
with tempfile.TemporaryDirectory() as tmp:
    p = lambda n: os.path.join(tmp, n)
    run('openssl','req','-x509','-newkey','rsa:2048','-nodes','-keyout',p('key.pem'),'-out',p('cert.pem'),'-days','365','-subj','/CN=certless-fuzz-app')
    run('openssl','req','-x509','-newkey','rsa:2048','-nodes','-keyout',p('ca.key'),'-out',p('ca.pem'),'-days','365','-subj','/CN=certless-fuzz-ca')
    run('openssl','req','-newkey','rsa:2048','-nodes','-keyout',p('leaf.key'),'-out',p('leaf.csr'),'-subj','/CN=certless-fuzz-leaf')
    run('openssl','x509','-req','-in',p('leaf.csr'),'-CA',p('ca.pem'),'-CAkey',p('ca.key'),'-CAcreateserial','-out',p('leaf.pem'),'-days','30')
    run('openssl','rsa','-in',p('key.pem'),'-traditional','-out',p('key.rsa.pem'))
    run('openssl','pkcs8','-topk8','-in',p('key.pem'),'-v2','aes-256-cbc','-iter','1000','-passout','pass:pem-password','-out',p('key.enc.pem'))
    run('openssl','ecparam','-name','prime256v1','-genkey','-noout','-out',p('ec.key'))
    run('openssl','req','-x509','-key',p('ec.key'),'-out',p('ec.pem'),'-days','30','-subj','/CN=certless-fuzz-ec')
    run('openssl','pkcs12','-export','-in',p('cert.pem'),'-inkey',p('key.pem'),'-passout','pass:pfx-password','-iter','1000','-maciter','-out',p('aes.pfx'))
    run('openssl','pkcs12','-export','-in',p('leaf.pem'),'-inkey',p('leaf.key'),'-certfile',p('ca.pem'),'-passout','pass:','-keypbe','NONE','-certpbe','NONE','-nomac','-out',p('plain.pfx'))
    run('openssl','pkcs12','-export','-in',p('cert.pem'),'-inkey',p('key.pem'),'-passout','pass:legacy-pfx','-legacy','-out',p('legacy.pfx'))
    r = lambda n: open(p(n),'rb').read()
    w('certificate','cert_and_key.pem', r('cert.pem') + r('key.pem'))
    w('certificate','key_first_rsa.pem', r('key.rsa.pem') + r('cert.pem'))
    w('certificate','encrypted_key.pem', b'password=pem-password\n' + r('cert.pem') + r('key.enc.pem'))
    w('certificate','chain.pem', r('leaf.pem') + r('ca.pem') + r('leaf.key'))
    w('certificate','ec_key.pem', r('ec.pem') + r('ec.key'))
    w('certificate','aes.pfx', b'password=pfx-password\n' + r('aes.pfx'))
    w('certificate','plain_chain.pfx', r('plain.pfx'))
    w('certificate','legacy_3des.pfx', b'password=legacy-pfx\n' + r('legacy.pfx'))
