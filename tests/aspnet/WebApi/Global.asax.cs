// The seed user's shape: an ASP.NET Web API on .NET Framework (System.Web, Global.asax, Web.config,
// packages.config) that reads a SharePoint Online list with an app granted Sites.Selected, its token
// from certless. One credential and one HttpClient for the application's AppDomain, made on
// first use and released with it; IIS recycles the AppDomain on every deployment and Web.config edit.
using System;
using System.Configuration;
using System.Net.Http;
using System.Web;
using System.Web.Http;
using Certless;

namespace CrmBridge
{
    public class WebApiApplication : HttpApplication
    {
        private static Lazy<HttpClient> sharePoint;
        internal static string SiteUrl;

        /// <summary>
        /// The client for SharePoint, made on first use: a configuration error then answers each request with
        /// certless's message (what is wrong, how to fix it) instead of failing the application's start.
        /// </summary>
        internal static HttpClient SharePoint
        {
            get { return sharePoint.Value; }
        }

        protected void Application_Start()
        {
            GlobalConfiguration.Configuration.Routes.MapHttpRoute(
                "api", "api/{controller}/{id}", new { id = RouteParameter.Optional });
            SiteUrl = ConfigurationManager.AppSettings["SharePointSite"];
            string scope = ConfigurationManager.AppSettings["SharePointScope"];
            // Made on first use, not here: on Mono's ASP.NET runtime a call into any native library from
            // Application_Start (even libc's getpid) makes Mono crash at a later recycle. No logger either: with
            // one, Mono's ASP.NET crashed at a later recycle too (docs/windows-iis.md, section 7);
            // dotnet/tests/RecycleTests.cs unloads AppDomains with loggers set.
            sharePoint = new Lazy<HttpClient>(() =>
            {
                // The managed identity and the app registration come from the application pool's environment
                // (AZURE_TENANT_ID, AZURE_CLIENT_ID, CERTLESS_MANAGED_IDENTITY_CLIENT_ID): docs/windows-iis.md.
                CertlessCredential credential = CertlessCredential.FromEnvironment();
                // A 403 from SharePoint becomes certless's explanation: what the token carried, what is missing.
                var handler = new CertlessAuthenticationHandler(credential, scope) { ThrowOnRefusal = true };
                handler.InnerHandler = new HttpClientHandler();
                return new HttpClient(handler);
            });
        }

        // No Application_End: the credential and the HttpClient live as long as the AppDomain, and its unload
        // releases them. Requests of the old AppDomain may still be running when Application_End is raised (Mono
        // raises it at once); disposing the credential there would fail them.
    }
}
