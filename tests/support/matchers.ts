// The aws-sdk-client-mock matchers (toHaveReceivedCommand…), registered once for every test file.
import "aws-sdk-client-mock-vitest/extend";
