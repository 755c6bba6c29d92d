<%@ Application Codebehind="Global.asax.cs" Inherits="CrmBridge.WebApiApplication" Language="C#" %>
