/** The test harness: requirements, fixtures and real services for integration and e2e tests. */
export { missingRequirements, requires, type Requirement } from './requires.js';
