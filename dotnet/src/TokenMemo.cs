using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Certless
{
    /// <summary>
    /// The managed tokens last handed out, one per scope, each with its native token. A warm
    /// <c>GetToken</c> asks the native cache whether it still holds that very token
    /// (<c>certless_credential_token_is_current</c>: no string crosses the boundary) and hands out
    /// the managed copy while it does. Whether a token may be used is the native cache's decision
    /// alone: this only spares the copy.
    /// </summary>
    internal sealed class TokenMemo : IDisposable
    {
        // Scopes (distinct resources or spellings) kept; older ones are copied again on use.
        private const int Kept = 16;
        private static readonly Entry[] None = new Entry[0];

        private readonly object gate = new object();
        // Replaced whole under the lock, read without it.
        private Entry[] entries = None;

        internal sealed class Entry : IDisposable
        {
            internal readonly string Scope;
            internal readonly ScopeHandle NativeScope;
            internal readonly TokenHandle NativeToken;
            internal readonly CertlessToken Token;
            internal readonly Task<CertlessToken> Completed;

            internal Entry(string scope, ScopeHandle nativeScope, TokenHandle nativeToken, CertlessToken token)
            {
                Scope = scope;
                NativeScope = nativeScope;
                NativeToken = nativeToken;
                Token = token;
                Completed = Task.FromResult(token);
            }

            public void Dispose()
            {
                if (NativeToken != null) NativeToken.Dispose();
                if (NativeScope != null) NativeScope.Dispose();
            }
        }

        /// <summary>The kept entry for <paramref name="scope"/> if the native cache still holds its token.</summary>
        internal Entry Find(CredentialHandle credential, string scope)
        {
            Entry[] current = Volatile.Read(ref entries);
            for (int i = 0; i < current.Length; i++)
            {
                Entry entry = current[i];
                if (!string.Equals(entry.Scope, scope, StringComparison.Ordinal)) continue;
                try
                {
                    return NativeMethods.certless_credential_token_is_current(credential, entry.NativeScope, new UIntPtr(1),
                        IntPtr.Zero, entry.NativeToken) ? entry : null;
                }
                catch (ObjectDisposedException)
                {
                    // Replaced (or the credential disposed) meanwhile: take the slow path, which says which.
                    return null;
                }
            }
            return null;
        }

        /// <summary>Copies <paramref name="native"/> (now owned here) and keeps both for <paramref name="scope"/>.</summary>
        internal Entry Keep(string scope, TokenHandle native)
        {
            Entry entry;
            try
            {
                entry = new Entry(scope, ScopeHandle.Create(scope), native, Native.ReadToken(native));
            }
            catch
            {
                native.Dispose();
                throw;
            }
            Entry dropped = null;
            lock (gate)
            {
                var next = new List<Entry>(entries.Length + 1);
                foreach (Entry e in entries)
                {
                    if (string.Equals(e.Scope, scope, StringComparison.Ordinal)) dropped = e;
                    else next.Add(e);
                }
                if (dropped == null && next.Count >= Kept)
                {
                    dropped = next[0];
                    next.RemoveAt(0);
                }
                next.Add(entry);
                Volatile.Write(ref entries, next.ToArray());
            }
            // A reader that still holds the dropped entry gets ObjectDisposedException, or the
            // native handles stay alive until its call returns (SafeHandle reference counts).
            if (dropped != null) dropped.Dispose();
            return entry;
        }

        public void Dispose()
        {
            Entry[] old;
            lock (gate)
            {
                old = entries;
                Volatile.Write(ref entries, None);
            }
            foreach (Entry e in old) e.Dispose();
        }
    }
}
