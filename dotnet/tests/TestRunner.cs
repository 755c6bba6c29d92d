// What the .NET test programs share (compiled into each): a test runs by name and fails on any
// exception; each check counts, and a failed one says what it expected.
using System;

internal static class TestRunner
{
    private static int passed;
    private static int failed;

    internal static void Run(string name, Action test)
    {
        int before = failed;
        try
        {
            test();
        }
        catch (Exception e)
        {
            failed++;
            Console.Error.WriteLine("FAIL {0}: unexpected {1}", name, e);
        }
        Console.WriteLine("{0} {1}", failed == before ? "ok  " : "FAIL", name);
    }

    internal static void Check(bool condition, string what)
    {
        if (condition)
        {
            passed++;
        }
        else
        {
            failed++;
            Console.Error.WriteLine("  check failed: " + what);
        }
    }

    /// <summary>The exception <paramref name="action"/> throws (directly or inside an
    /// AggregateException), or null and a failed check when it throws none or another.</summary>
    internal static T Throws<T>(Action action, string what) where T : Exception
    {
        try
        {
            action();
        }
        catch (T e)
        {
            passed++;
            return e;
        }
        catch (AggregateException e) when (e.InnerException is T)
        {
            passed++;
            return (T)e.InnerException;
        }
        catch (Exception e)
        {
            failed++;
            Console.Error.WriteLine("  check failed: {0} threw {1}, not {2}", what, e.GetType().Name, typeof(T).Name);
            return null;
        }
        failed++;
        Console.Error.WriteLine("  check failed: {0} did not throw {1}", what, typeof(T).Name);
        return null;
    }

    /// <summary>Prints "<paramref name="suite"/>: N passed, M failed"; the exit code (1 on a failure).</summary>
    internal static int Summary(string suite)
    {
        Console.WriteLine("{0}: {1} passed, {2} failed", suite, passed, failed);
        return failed == 0 ? 0 : 1;
    }
}
