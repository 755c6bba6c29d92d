using System;
using System.Runtime.InteropServices;

namespace Certless
{
    /// <summary>An owned <c>certless_credential *</c>.</summary>
    internal sealed class CredentialHandle : SafeHandle
    {
        public CredentialHandle() : base(IntPtr.Zero, true) { }

        internal CredentialHandle(IntPtr handle) : base(IntPtr.Zero, true)
        {
            SetHandle(handle);
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_credential_free(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_options *</c>, alive for one <see cref="CertlessCredential.FromOptions"/> call.</summary>
    internal sealed class OptionsHandle : SafeHandle
    {
        public OptionsHandle() : base(IntPtr.Zero, true) { }

        internal static OptionsHandle Create()
        {
            IntPtr options = IntPtr.Zero;
            IntPtr error = IntPtr.Zero;
            Native.ThrowIfFailed(NativeMethods.certless_options_new(ref options, ref error), error);
            var handle = new OptionsHandle();
            handle.SetHandle(options);
            return handle;
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_options_free(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_pending *</c>.</summary>
    internal sealed class PendingHandle : SafeHandle
    {
        public PendingHandle() : base(IntPtr.Zero, true) { }

        internal PendingHandle(IntPtr handle) : base(IntPtr.Zero, true)
        {
            SetHandle(handle);
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_pending_free(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_token *</c>, released as soon as it is copied.</summary>
    internal sealed class TokenHandle : SafeHandle
    {
        internal TokenHandle(IntPtr handle) : base(IntPtr.Zero, true)
        {
            SetHandle(handle);
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_token_free(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_token_options *</c>, alive for one call.</summary>
    internal sealed class TokenOptionsHandle : SafeHandle
    {
        public TokenOptionsHandle() : base(IntPtr.Zero, true) { }

        internal static TokenOptionsHandle Create()
        {
            var handle = new TokenOptionsHandle();
            handle.SetHandle(NativeMethods.certless_token_options_new());
            return handle;
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_token_options_free(handle);
            return true;
        }
    }

    /// <summary>
    /// One scope as the C ABI takes a list of them (<c>const char *const *</c>), in one block of unmanaged
    /// memory: the pointer to the string, then the NUL-terminated UTF-8 string.
    /// </summary>
    internal sealed class ScopeHandle : SafeHandle
    {
        public ScopeHandle() : base(IntPtr.Zero, true) { }

        internal static ScopeHandle Create(string scope)
        {
            byte[] bytes = Native.Utf8(scope);
            var handle = new ScopeHandle();
            IntPtr block = Marshal.AllocHGlobal(IntPtr.Size + bytes.Length);
            handle.SetHandle(block);
            IntPtr text = new IntPtr(block.ToInt64() + IntPtr.Size);
            Marshal.Copy(bytes, 0, text, bytes.Length);
            Marshal.WriteIntPtr(block, text);
            return handle;
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            Marshal.FreeHGlobal(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_error *</c>, released as soon as it is copied.</summary>
    internal sealed class ErrorHandle : SafeHandle
    {
        internal ErrorHandle(IntPtr handle) : base(IntPtr.Zero, true)
        {
            SetHandle(handle);
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_error_free(handle);
            return true;
        }
    }

    /// <summary>Scopes as NUL-terminated UTF-8 strings in unmanaged memory, for one call.</summary>
    internal sealed class Utf8List : IDisposable
    {
        internal readonly IntPtr[] Pointers;
        internal readonly UIntPtr Length;

        internal Utf8List(string[] items)
        {
            if (items == null) throw new ArgumentNullException("scopes");
            Pointers = new IntPtr[items.Length];
            Length = new UIntPtr((uint)items.Length);
            try
            {
                for (int i = 0; i < items.Length; i++)
                {
                    if (items[i] == null) throw new ArgumentNullException("scopes", "scopes[" + i + "] is null");
                    byte[] bytes = Native.Utf8(items[i]);
                    Pointers[i] = Marshal.AllocHGlobal(bytes.Length);
                    Marshal.Copy(bytes, 0, Pointers[i], bytes.Length);
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            for (int i = 0; i < Pointers.Length; i++)
            {
                if (Pointers[i] != IntPtr.Zero)
                {
                    Marshal.FreeHGlobal(Pointers[i]);
                    Pointers[i] = IntPtr.Zero;
                }
            }
        }
    }
}
