using System;
using System.IO;
using System.Text.RegularExpressions;

namespace FastPt.Tests;

/// <summary>The test process's resident memory, from <c>/proc/self/status</c>: the peak (VmHWM) can be reset
/// (<c>clear_refs</c> 5), so a test in the serial collection measures the peak of what it does itself.</summary>
internal static partial class HostMemory
{
    /// <summary>Starts a measurement: resets the peak to the current resident size and returns that size.
    /// Without Linux's <c>/proc</c>, returns null.</summary>
    public static long? ResetPeak()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/self/clear_refs")) return null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        File.WriteAllText("/proc/self/clear_refs", "5");
        return Read("VmRSS");
    }

    /// <summary>Peak resident bytes since <see cref="ResetPeak"/>.</summary>
    public static long Peak() => Read("VmHWM");

    private static long Read(string field)
    {
        Match m = new Regex(field + @":\s+(\d+) kB").Match(File.ReadAllText("/proc/self/status"));
        if (!m.Success) throw new InvalidOperationException($"/proc/self/status has no {field}");
        return long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
