using System;

namespace FastPt.Tracing;

/// <summary>A trace file cannot be read: it is not a .nettrace, or it is truncated or corrupt. The message names
/// the file and says what went wrong; <see cref="Exception.InnerException"/> holds TraceEvent's own error.</summary>
public sealed class TraceFormatException : Exception
{
    /// <summary>Creates an exception with a generic message.</summary>
    public TraceFormatException() : this("the trace cannot be read") { }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    public TraceFormatException(string message) : base(message) => FileName = "";

    /// <summary>Creates an exception with <paramref name="message"/> and the error that caused it.</summary>
    public TraceFormatException(string message, Exception innerException) : base(message, innerException) => FileName = "";

    /// <summary>Creates an exception for <paramref name="fileName"/> saying what went wrong.</summary>
    public TraceFormatException(string fileName, string problem, Exception? innerException)
        : base($"{fileName}: {problem}", innerException) =>
        FileName = fileName;

    /// <summary>The trace file (or stream name) that could not be read.</summary>
    public string FileName { get; }
}
