using System;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;
using System.Web.Http;
using Certless;

namespace CrmBridge.Controllers
{
    /// <summary>GET api/orders: the items of the SharePoint list "Orders", as SharePoint returned them.</summary>
    public class OrdersController : ApiController
    {
        public async Task<HttpResponseMessage> Get()
        {
            return await Relay(HttpMethod.Get, WebApiApplication.SiteUrl, null);
        }

        /// <summary>GET api/orders/{site}: the same list on another site (one the app may not be granted).</summary>
        public async Task<HttpResponseMessage> Get(string id)
        {
            string site = WebApiApplication.SiteUrl.Substring(0, WebApiApplication.SiteUrl.LastIndexOf('/') + 1) + id;
            return await Relay(HttpMethod.Get, site, null);
        }

        /// <summary>POST api/orders: adds an item (a write: needs a write grant on the site).</summary>
        public async Task<HttpResponseMessage> Post()
        {
            string body = await Request.Content.ReadAsStringAsync();
            return await Relay(HttpMethod.Post, WebApiApplication.SiteUrl, body);
        }

        private static async Task<HttpResponseMessage> Relay(HttpMethod method, string site, string body)
        {
            var request = new HttpRequestMessage(method, site + "/_api/web/lists/getbytitle('Orders')/items");
            request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("application/json;odata=nometadata"));
            if (body != null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            try
            {
                using (HttpResponseMessage response = await WebApiApplication.SharePoint.SendAsync(request))
                {
                    string text = await response.Content.ReadAsStringAsync();
                    return Answer(response.StatusCode, text);
                }
            }
            catch (CertlessException e)
            {
                // The token could not be had, or SharePoint refused it: certless's message says which leg,
                // why, and how to fix it. Code 500: the request was abandoned because this AppDomain is being
                // recycled; the caller may simply try again.
                HttpStatusCode status = e.Code == 500 ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.BadGateway;
                return Answer(status, "{\"certless_code\":" + e.Code + ",\"message\":\"" + Escape(e.Message) + "\"}");
            }
        }

        private static HttpResponseMessage Answer(HttpStatusCode status, string json)
        {
            return new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        }

        private static string Escape(string s)
        {
            var b = new StringBuilder();
            foreach (char c in s)
            {
                if (c == '"' || c == '\\') b.Append('\\').Append(c);
                else if (c < ' ') b.AppendFormat("\\u{0:x4}", (int)c);
                else b.Append(c);
            }
            return b.ToString();
        }
    }
}
