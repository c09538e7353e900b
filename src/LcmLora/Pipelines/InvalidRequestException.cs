namespace LcmLora.Pipelines;

/// <summary>A <see cref="GenerationRequest"/> value out of range; <see cref="Property"/> names it.</summary>
public sealed class InvalidRequestException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="property">The request property (e.g. <c>Steps</c>).</param>
    /// <param name="problem">What is wrong, e.g. "must be at least 1; got 0."</param>
    public InvalidRequestException(string property, string problem) : base($"{property} {problem}")
    {
        Property = property;
        Problem = problem;
    }

    /// <summary>The property of <see cref="GenerationRequest"/> at fault.</summary>
    public string Property { get; }

    /// <summary>What is wrong with its value, without the property name.</summary>
    public string Problem { get; }
}
